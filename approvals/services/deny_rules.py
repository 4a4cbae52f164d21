"""Org deny rules: explicit denies that beat any row (PRODUCT.md, the decision service)."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from approvals.decisions.versions import decisions_changed
from approvals.models import DenyRule
from approvals.permissions import can_manage_deny_rules
from approvals.services.rows import require_member
from orgs.audit import record_event
from orgs.events import event_emit

FIELDS = ("platform", "model_id", "action", "data_class", "project", "environment")


@transaction.atomic
def deny_rule_create(*, org, actor, reason: str, owner, platform: str = "",
                     model_id: str = "", action: str = "", data_class: str = "",
                     project=None, environment=None) -> DenyRule:
    """Admins and security reviewers deny a model, an action or a data class (or a
    combination), org-wide or for one project or environment, with a reason and an
    owner. Audits approval.deny_rule_created; emits the same kind."""
    require_member(actor, org)
    if not can_manage_deny_rules(actor):
        raise PermissionDenied("Only admins and security reviewers manage deny rules.")
    rule = DenyRule(org=org, platform=(platform or "").strip(),
                    model_id=(model_id or "").strip(), action=action or "",
                    data_class=data_class or "", project=project, environment=environment,
                    reason=(reason or "").strip(), owner=owner, created_by=actor)
    errors = {}
    if not (rule.model_id or rule.action or rule.data_class):
        errors["model_id"] = "Deny a model, an action or a data class (or several)."
    if rule.platform and not rule.model_id:
        errors["platform"] = "A platform narrows a model; name the model too."
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
    return rule


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
