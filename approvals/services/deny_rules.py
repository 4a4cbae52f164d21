"""Org deny rules: explicit denies that beat any row (PRODUCT.md, the decision service)."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from approvals.decisions.versions import decisions_changed
from approvals.models import DenyRule
from approvals.permissions import can_manage_deny_rules
from approvals.services.rows import require_member
from evidence.model_ids import SEPARATOR, normalise, split
from evidence.models import CatalogEntry
from evidence.selectors import snapshot_list
from orgs.audit import record_event
from orgs.events import event_emit

FIELDS = ("platform", "model_id", "action", "data_class", "project", "environment")


@transaction.atomic
def deny_rule_create(*, org, actor, reason: str, owner, platform: str = "",
                     model_id: str = "", action: str = "", data_class: str = "",
                     project=None, environment=None) -> DenyRule:
    """Admins and security reviewers deny a model, an action or a data class (or a
    combination), org-wide or for one project or environment, with a reason and an
    owner. Model and platform are stored normalised (evidence/model_ids.py: lower case,
    no surrounding spaces, a qualified id in the model field split at a platform of the
    org's catalog). The rule is created even when it names nothing in the org's current
    catalog; `rule.warnings` then says so plainly (views and the API show it). Audits
    approval.deny_rule_created; emits the same kind."""
    require_member(actor, org)
    if not can_manage_deny_rules(actor):
        raise PermissionDenied("Only admins and security reviewers manage deny rules.")
    platform, model_id = _identity(org, platform, model_id)
    rule = DenyRule(org=org, platform=platform, model_id=model_id, action=action or "",
                    data_class=data_class or "", project=project, environment=environment,
                    reason=(reason or "").strip(), owner=owner, created_by=actor)
    errors = {}
    if not (rule.platform or rule.model_id or rule.action or rule.data_class):
        errors["model_id"] = "Deny a platform, a model, an action or a data class (or several)."
    if SEPARATOR in rule.platform:
        errors["platform"] = ("A platform has no \"/\"; put a qualified id such as "
                              "azure/gpt-4o in the model field.")
    for name in ("owner", "project", "environment"):
        obj = getattr(rule, name)
        if obj is not None and obj.org_id != org.pk:
            errors[name] = "This belongs to another organization."
    if owner is None:
        errors["owner"] = "Name the member who owns this rule."
    if not errors and project and environment and environment.project_id != project.pk:
        errors["environment"] = "This environment belongs to another project."
    if errors:
        raise ValidationError(errors)
    rule.full_clean(exclude=["owner", "created_by", "project", "environment"])
    rule.save()
    decisions_changed(org)
    record_event(org=org, actor=actor, action="approval.deny_rule_created", obj=rule,
                 changes={**{f: [None, str(getattr(rule, f) or "")] for f in FIELDS},
                          "reason": [None, rule.reason], "owner": [None, owner.user.email]})
    event_emit(org=org, kind="approval.deny_rule_created", subject=rule,
               payload={"rule": str(rule), "reason": rule.reason})
    rule.warnings = _catalog_warnings(org, rule)
    return rule


def _identity(org, platform, model_id) -> tuple[str, str]:
    """(platform, model id) normalised; a qualified model field with no platform is split
    when its first segment is a platform of the org's catalog (any snapshot)."""
    platform, model_id = normalise(platform), normalise(model_id)
    if model_id and not platform and SEPARATOR in model_id:
        head = model_id.split(SEPARATOR, 1)[0]
        # One indexed query (org, platform, ...), only for a model field holding a "/".
        known = CatalogEntry.objects.for_org(org).filter(platform__iexact=head).exists()
        platform, model_id = split(model_id, {head} if known else ())
    return platform, model_id


def _catalog_warnings(org, rule) -> list[str]:
    """A plain warning when the rule's model or platform names no entry of the org's
    current (newest) catalog snapshot: the rule stands, but it may be a typo."""
    if not (rule.platform or rule.model_id):
        return []
    snapshot = snapshot_list(org=org).first()
    entries = CatalogEntry.objects.for_org(org).filter(snapshot=snapshot)
    if rule.platform:
        entries = entries.filter(platform__iexact=rule.platform)
    if rule.model_id:
        # As the engine reads it: the id itself, or an id ending in "/<model>".
        entries = entries.filter(Q(model_id__iexact=rule.model_id)
                                 | Q(model_id__iendswith=SEPARATOR + rule.model_id))
    if snapshot is not None and entries.exists():
        return []
    where = f"platform {rule.platform}" if rule.platform else "any platform"
    named = f"model {rule.model_id} on {where}" if rule.model_id else f"platform {rule.platform}"
    catalog = f"the current catalog ({snapshot})" if snapshot else "the catalog (none imported)"
    return [f"This rule matches no entry of {catalog}: no {named}. It was created and "
            "denies matching calls, but check the spelling."]


@transaction.atomic
def deny_rule_deactivate(*, org, actor, rule: DenyRule, reason: str) -> DenyRule:
    """Admins and security reviewers lift an active deny rule, saying why; the rule stays
    for the record. Audits and emits approval.deny_rule_deactivated."""
    require_member(actor, org)
    if not can_manage_deny_rules(actor):
        raise PermissionDenied("Only admins and security reviewers manage deny rules.")
    rule = DenyRule.objects.for_org(org).select_for_update().get(pk=rule.pk)
    if not rule.active:
        raise ValidationError({"rule": "This deny rule is already lifted."})
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the deny is lifted."})
    rule.active, rule.deactivated_at = False, timezone.now()
    rule.save(update_fields=["active", "deactivated_at"])
    decisions_changed(org)
    record_event(org=org, actor=actor, action="approval.deny_rule_deactivated", obj=rule,
                 changes={"active": [True, False], "reason": [None, reason]})
    event_emit(org=org, kind="approval.deny_rule_deactivated", subject=rule,
               payload={"rule": str(rule), "reason": reason})
    return rule
