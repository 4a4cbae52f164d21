"""The org's approval settings: renewal limits, reminders, expiry grace, decision log, and
what a catalog change under an approved model does (approvals/catalog_triggers.py)."""

from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from approvals.decisions.versions import decisions_changed
from approvals.models import ApprovalSettings, CatalogTrigger
from approvals.permissions import can_edit_approval_settings
from approvals.selectors import approval_settings_get
from approvals.services.rows import require_member
from orgs.audit import diff, record_event
from orgs.events import event_emit

FIELDS = ("max_renewal_days", "reminder_days", "expiry_grace_days", "decision_log",
          "decision_log_sample_percent", "catalog_price_tolerance_percent",
          "catalog_renewal_changes", "billing_tolerance_percent")
# Bounds that keep a setting meaningful: a renewal at least monthly-ish to yearly, reminders
# inside the renewal window, a grace shorter than a renewal cycle.
MAX_RENEWAL_DAYS_LIMIT = 366
MAX_GRACE_DAYS = 90
# Above 1000 % no real price change would ever raise a finding: that is "off", say so.
MAX_PRICE_TOLERANCE = 1000


def _int_between(errors, name, value, low, high, message):
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        errors[name] = message


def _check(fields: dict) -> dict:
    """Field-level problems of a full set of settings."""
    errors: dict[str, str] = {}
    _int_between(errors, "max_renewal_days", fields["max_renewal_days"], 1,
                 MAX_RENEWAL_DAYS_LIMIT, f"Give a number of days from 1 to "
                                         f"{MAX_RENEWAL_DAYS_LIMIT}.")
    _int_between(errors, "expiry_grace_days", fields["expiry_grace_days"], 0, MAX_GRACE_DAYS,
                 f"Give a number of days from 0 to {MAX_GRACE_DAYS}.")
    _int_between(errors, "decision_log_sample_percent", fields["decision_log_sample_percent"],
                 0, 100, "Give a percentage from 0 to 100.")
    tolerance = fields["billing_tolerance_percent"]
    try:
        tolerance = Decimal(str(tolerance))
    except (InvalidOperation, TypeError, ValueError):
        tolerance = None
    if tolerance is None or not tolerance.is_finite() or not 0 <= tolerance <= 100:
        errors["billing_tolerance_percent"] = "Give a percentage from 0 to 100."
    days = fields["reminder_days"]
    if not isinstance(days, list) or not all(isinstance(d, int) and not isinstance(d, bool)
                                             for d in days):
        errors["reminder_days"] = "Give whole numbers of days, e.g. 30, 14, 7, 1."
    elif any(d < 1 for d in days) or len(set(days)) != len(days):
        errors["reminder_days"] = "Each reminder is a different number of days, at least 1."
    elif "max_renewal_days" not in errors and any(d > fields["max_renewal_days"] for d in days):
        errors["reminder_days"] = (f"A reminder more than {fields['max_renewal_days']} days "
                                   "ahead would come before the row is even renewed.")
    if fields["decision_log"] not in ApprovalSettings.DecisionLog.values:
        errors["decision_log"] = "Choose off, sampled or every decision."
    elif (fields["decision_log"] == ApprovalSettings.DecisionLog.SAMPLED
          and fields["decision_log_sample_percent"] == 0):
        errors["decision_log_sample_percent"] = "A sample of 0 % logs nothing; choose off."
    _int_between(errors, "catalog_price_tolerance_percent",
                 fields["catalog_price_tolerance_percent"], 0, MAX_PRICE_TOLERANCE,
                 f"Give a percentage from 0 to {MAX_PRICE_TOLERANCE}.")
    changes = fields["catalog_renewal_changes"]
    if not isinstance(changes, list) or not all(c in CatalogTrigger.values for c in changes):
        errors["catalog_renewal_changes"] = ("Choose among: " + ", ".join(
            CatalogTrigger.values) + ".")
    return errors


@transaction.atomic
def approval_settings_update(*, org, actor, **fields) -> ApprovalSettings:
    """Org admins and owners (org:write) change the org's approval settings: the longest a
    production row goes between renewals (max_renewal_days), the reminder days before a
    renewal date (stored largest first), the expiry grace days, the decision log mode and
    sample percent, the catalog price tolerance and which catalog changes move an active
    row to renewal due (catalog_renewal_changes, CatalogTrigger values). Unset fields keep
    their value. Field-level errors, nothing saved on any. Rows already approved keep their
    dates; the linter flags production rows now beyond a shorter maximum. Audits and emits
    approval.settings_updated; a change that changes nothing writes nothing."""
    require_member(actor, org)
    if not can_edit_approval_settings(actor):
        raise PermissionDenied("Only admins and owners change the approval settings.")
    if unknown := set(fields) - set(FIELDS):
        raise ValidationError({name: "This setting does not exist." for name in unknown})
    current = approval_settings_get(org=org)
    if current.pk is not None:
        current = ApprovalSettings.objects.for_org(org).select_for_update().get(pk=current.pk)
    before = {name: getattr(current, name) for name in FIELDS}
    after = {**before, **fields}
    if errors := _check(after):
        raise ValidationError(errors)
    after["reminder_days"] = sorted(after["reminder_days"], reverse=True)
    # Stored in the choices' order, so that the same choice is never a "change".
    after["catalog_renewal_changes"] = [c for c in CatalogTrigger.values
                                        if c in after["catalog_renewal_changes"]]
    changes = diff(before, after)
    if not changes and current.pk is not None:
        return current
    for name, value in after.items():
        setattr(current, name, value)
    current.updated_at = timezone.now()
    current.save()
    # The decision log mode and sample are read by the decision service's workers.
    decisions_changed(org)
    record_event(org=org, actor=actor, action="approval.settings_updated", obj=current,
                 changes=changes)
    event_emit(org=org, kind="approval.settings_updated", subject=current,
               payload={name: new for name, (_old, new) in changes.items()})
    return current
