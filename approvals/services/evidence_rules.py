"""The org's required-evidence rules (approvals/checklist.py EvidenceRules): which evidence
kinds a row needs per environment tier, and per data class in the tiers where data-class
evidence applies. Stored on ApprovalSettings.evidence_rules; null means the seed's
defaults. Only org admins and owners change them."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from approvals.checklist import (
    DEFAULT_RULES,
    KIND_ORDER,
    PRODUCTION,
    TIERS,
    EvidenceRules,
    evidence_rules_get,
)
from approvals.models import ApprovalSettings, DataClass
from approvals.permissions import can_edit_approval_settings
from approvals.selectors import approval_settings_get
from approvals.services.rows import require_member
from evidence.models import EvidenceItem
from orgs.audit import diff, record_event
from orgs.events import event_emit

# The one control a production row can never drop: without a current catalog check the
# gateway route may point at a model that is no longer listed.
PRODUCTION_MINIMUM = EvidenceItem.Kind.CATALOG_ROW


def tier_field(tier: str) -> str:
    return f"tier_{tier}"


def data_class_field(data_class: str) -> str:
    return f"dc_{data_class}"


def _flat(rules: EvidenceRules) -> dict:
    """One entry per tier and data class (the audit diff's fields), kinds in table order."""
    raw = rules.as_json()
    return {**{tier_field(t): kinds for t, kinds in raw["tiers"].items()},
            **{data_class_field(dc): kinds for dc, kinds in raw["data_classes"].items()},
            "data_class_tiers": raw["data_class_tiers"]}


def _kinds_error(kinds) -> str | None:
    if not isinstance(kinds, (list, tuple, set, frozenset)):
        return "Choose evidence kinds."
    unknown = sorted(str(k) for k in kinds if k not in KIND_ORDER)
    return f"Not an evidence kind: {', '.join(unknown)}." if unknown else None


def _check(tiers: dict, data_classes: dict, data_class_tiers) -> dict:
    """Field-level problems of a full set of rules, keyed like the page's fields."""
    errors = {}
    for name in set(tiers) - set(TIERS):
        errors[tier_field(name)] = "Not an environment tier."
    for name in set(data_classes) - set(DataClass.values):
        errors[data_class_field(name)] = "Not a data class."
    for tier, kinds in tiers.items():
        if problem := _kinds_error(kinds):
            errors.setdefault(tier_field(tier), problem)
    for dc, kinds in data_classes.items():
        if problem := _kinds_error(kinds):
            errors.setdefault(data_class_field(dc), problem)
    if PRODUCTION_MINIMUM not in (tiers.get(PRODUCTION) or ()):
        errors.setdefault(tier_field(PRODUCTION), (
            "A production row must at least require its catalog row: without a current "
            "catalog check its route may point at a model that is no longer listed."))
    if not isinstance(data_class_tiers, (list, tuple, set, frozenset)) or \
            set(data_class_tiers) - set(TIERS):
        errors["data_class_tiers"] = "Choose environment tiers."
    elif any(data_classes.values()) and not data_class_tiers:
        errors["data_class_tiers"] = ("Data-class evidence applies nowhere: choose the tiers "
                                      "where it is required, or clear the data classes.")
    return errors


def _save(*, org, actor, rules: EvidenceRules | None) -> ApprovalSettings:
    current = approval_settings_get(org=org)
    if current.pk is not None:
        current = ApprovalSettings.objects.for_org(org).select_for_update().get(pk=current.pk)
    before = EvidenceRules.from_json(current.evidence_rules)
    changes = diff(_flat(before), _flat(rules or DEFAULT_RULES))
    stored = rules.as_json() if rules is not None else None
    if not changes:  # the same rules, whether stored or the defaults: nothing to write
        return current
    current.evidence_rules = stored
    current.updated_at = timezone.now()
    current.save()
    # The checklist and the gate read the rules at each look; nothing else is cached.
    record_event(org=org, actor=actor, action="approval.evidence_rules_updated", obj=current,
                 changes={**changes, "reset": [None, True]} if rules is None else changes)
    event_emit(org=org, kind="approval.evidence_rules_updated", subject=current,
               payload={"changed": sorted(changes), "reset": rules is None})
    return current


def _require_admin(actor, org):
    require_member(actor, org)
    if not can_edit_approval_settings(actor):
        raise PermissionDenied("Only admins and owners change the evidence rules.")


@transaction.atomic
def evidence_rules_update(*, org, actor, tiers: dict, data_classes: dict,
                          data_class_tiers) -> ApprovalSettings:
    """Org admins and owners (org:write) set the required evidence: `tiers` maps each
    environment tier to evidence kinds, `data_classes` each data class to kinds, required
    in the tiers of `data_class_tiers`. Tiers and data classes left out require nothing.
    Field-level errors (tier_<tier>, dc_<class>, data_class_tiers), nothing saved on any;
    production keeps at least the catalog row. Audits approval.evidence_rules_updated with
    the before/after of each changed tier and class, and emits it; no change, no write."""
    _require_admin(actor, org)
    if errors := _check(tiers, data_classes, data_class_tiers):
        raise ValidationError(errors)
    rules = EvidenceRules(tiers={t: frozenset(k) for t, k in tiers.items()},
                          data_classes={dc: frozenset(k) for dc, k in data_classes.items()},
                          data_class_tiers=frozenset(data_class_tiers))
    return _save(org=org, actor=actor, rules=rules)


@transaction.atomic
def evidence_rules_reset(*, org, actor) -> ApprovalSettings:
    """Org admins and owners go back to the seed's defaults (the stored rules are cleared,
    so later product defaults apply too). Audited like an update, with the diff back to
    the defaults and reset: true."""
    _require_admin(actor, org)
    return _save(org=org, actor=actor, rules=None)


__all__ = ["evidence_rules_get", "evidence_rules_reset", "evidence_rules_update"]
