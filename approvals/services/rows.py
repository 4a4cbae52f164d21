"""Creating and editing policy rows, and the rules every row's content must keep."""

from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.dispatch import receiver
from django.utils import timezone

from approvals.models import (
    Action,
    DataClass,
    DenyRule,
    PolicyRow,
    RenewalTrigger,
)
from approvals.permissions import can_edit, can_request
from approvals.selectors import approval_settings_get
from approvals.workflow import EDITABLE, FINISHED, InvalidTransition
from evidence.families import actions_for
from evidence.models import CatalogEntry
from orgs.audit import diff, record_event
from orgs.events import event_emit
from orgs.models import Membership
from orgs.roles import PARTICIPATE
from orgs.signals import member_removing

OWNER_FIELDS = ("app_owner", "engineering_owner", "finance_owner", "evidence_owner",
                "cutoff_owner")
# What row_create and row_update accept; approved_models is a list of CatalogEntry.
FIELDS = ("project", "environment", "caller", "api_key", "workload_identity",
          "allowed_actions", "data_classes", "business_reason", "daily_cap", "monthly_budget",
          "rate_limit_per_minute", "alert_thresholds", "cutoff_behaviour", *OWNER_FIELDS,
          "fallback_row", "renewal_date", "renewal_triggers")
REQUIRED = ("project", "environment", "caller", "business_reason", "monthly_budget",
            *OWNER_FIELDS)


def require_member(actor, org):
    """Every service runs for a member of `org` (or the system, actor=None, where allowed)."""
    if actor is None or actor.org_id != org.pk:
        raise PermissionDenied("You are not a member of this organization.")


def _choice_list(errors, name, values, choices, *, required=True):
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        errors[name] = "Give a list of values."
        return
    if required and not values:
        errors[name] = "Choose at least one."
    if bad := [v for v in values if v not in choices]:
        errors[name] = f"Unknown value(s): {', '.join(bad)}."
    elif len(set(values)) != len(values):
        errors[name] = "A value is listed twice."


def _check_scope(errors, org, row):
    """Everything the row points at belongs to this org and to the row's one project,
    environment and caller: one key, one project, one environment, one caller."""
    for name in ("project", "environment", "caller", "api_key", "workload_identity",
                 "fallback_row", *OWNER_FIELDS):
        obj = getattr(row, name)
        if obj is not None and obj.org_id != org.pk:
            errors[name] = "This belongs to another organization."
        elif name in OWNER_FIELDS and obj is not None and not obj.has_scope(PARTICIPATE):
            # Owners sign, attach evidence and run tests; an auditor changes nothing.
            errors[name] = "An auditor cannot own a row; choose someone who takes part."
    if errors:
        return
    if row.environment.project_id != row.project_id:
        errors["environment"] = "This environment belongs to another project."
    if row.caller.project_id != row.project_id:
        errors["caller"] = "This caller belongs to another project."
    if row.api_key and row.workload_identity:
        errors["api_key"] = "Name one credential: an API key or a workload identity."
    credential = row.credential
    if credential is not None and (credential.project_id, credential.environment_id,
                                   credential.caller_id) != (row.project_id,
                                                             row.environment_id, row.caller_id):
        errors["api_key" if row.api_key else "workload_identity"] = (
            "The credential is bound to another project, environment or caller.")


# How far _fallback_cycle follows fallback links: far beyond any sane chain, and a bound on
# the queries one validation may cost.
MAX_FALLBACK_CHAIN = 20


def _fallback_cycle(row) -> bool:
    """True if following fallback links from row's fallback leads back to row (A -> B ->
    A). One query per link; a new row (no pk yet) cannot be in a cycle."""
    if row.pk is None:
        return False
    seen, current = set(), row.fallback_row
    for _ in range(MAX_FALLBACK_CHAIN):
        if current is None or current.pk in seen:
            return False
        if current.fallback_row_id == row.pk:
            return True
        seen.add(current.pk)
        current = current.fallback_row
    return True  # a chain this long is a mistake in any case


def _check_fallback(errors, row):
    """A fallback is another row for the same caller and environment that covers every
    action and data class of this one, and never leads back to it. That it is active is
    checked on activation."""
    fb = row.fallback_row
    if fb is None:
        return
    if fb.pk is not None and fb.pk == row.pk:
        errors["fallback_row"] = "A row cannot be its own fallback."
    elif _fallback_cycle(row):
        errors["fallback_row"] = ("The fallback row falls back to this row (directly or "
                                  "through others); fallbacks must not form a cycle.")
    elif (fb.caller_id, fb.environment_id) != (row.caller_id, row.environment_id):
        errors["fallback_row"] = "The fallback row must be for the same caller and environment."
    elif not (set(row.allowed_actions) <= set(fb.allowed_actions)
              and set(row.data_classes) <= set(fb.data_classes)):
        errors["fallback_row"] = ("The fallback row must approve every action and data class "
                                  "of this row.")


def renewal_date_error(renewal_date, *, production: bool, today, max_days: int) -> str | None:
    """What is wrong with a (next) renewal date, or None: it lies in the future and, for a
    production row, within the org's max_renewal_days (approval settings)."""
    if renewal_date is not None and renewal_date <= today:
        return "The renewal date must be in the future."
    if production and renewal_date is None:
        return "Production rows need a renewal date."
    if production and renewal_date > today + timedelta(days=max_days):
        return (f"Production rows renew within {max_days} days "
                f"(by {today + timedelta(days=max_days)}).")
    return None


def _check_renewal(errors, org, row, today):
    max_days = approval_settings_get(org=org).max_renewal_days
    if problem := renewal_date_error(row.renewal_date, production=row.is_production,
                                     today=today, max_days=max_days):
        errors["renewal_date"] = problem
    if row.is_production and not row.renewal_triggers:
        errors["renewal_triggers"] = "Production rows need at least one renewal trigger."


def _check_actions_served(errors, models, actions):
    """Every approved model can serve every allowed action, by its endpoint families
    (evidence/families.py): the same rule the screen step applies to the current catalog,
    told to the requester while they still fill in the form."""
    for entry in models:
        if cannot := sorted(set(actions) - actions_for(entry.family_list)):
            families = ", ".join(entry.family_list) or "no known family"
            errors["allowed_actions"] = (f"{entry.key} cannot serve {', '.join(cannot)} "
                                         f"(its endpoint families: {families}).")
            return


def validate_row(*, org, row: PolicyRow, models) -> None:
    """Raise one ValidationError with every field-level problem of the row's content.
    Checks that need the project, environment and caller run once those are given."""
    errors: dict[str, str] = {}
    for name in REQUIRED:
        # attname: an unset foreign key raises on attribute access, its *_id is just None.
        if getattr(row, row._meta.get_field(name).attname) in (None, ""):
            errors[name] = "This field is required."
    # Missing fields do not stop the checks below, so a form validating as you go can
    # tell about a negative budget before the owners are chosen.
    missing = bool(errors)
    _choice_list(errors, "allowed_actions", row.allowed_actions, Action.values)
    _choice_list(errors, "data_classes", row.data_classes, DataClass.values)
    if "data_classes" not in errors and DataClass.PROHIBITED in row.data_classes:
        errors["data_classes"] = "Prohibited data can never be approved."
    _choice_list(errors, "renewal_triggers", row.renewal_triggers, RenewalTrigger.values,
                 required=False)
    thresholds = row.alert_thresholds
    if (not isinstance(thresholds, list) or not thresholds
            or not all(isinstance(t, int) and 0 < t <= 100 for t in thresholds)
            or thresholds != sorted(set(thresholds))):
        errors["alert_thresholds"] = "Give rising percentages between 1 and 100, e.g. 50, 80, 100."
    for name in ("daily_cap", "monthly_budget", "rate_limit_per_minute"):
        try:  # a form or the API may hand over strings; compare numbers
            setattr(row, name, row._meta.get_field(name).to_python(getattr(row, name)))
        except ValidationError as exc:
            errors[name] = exc.messages[0]
            continue
        if getattr(row, name) is not None and getattr(row, name) < 0:
            errors[name] = "Must not be negative."
    if not models:
        errors["approved_models"] = "Approve at least one model from the catalog."
    elif any(entry.org_id != org.pk for entry in models):
        errors["approved_models"] = "A model belongs to another organization's catalog."
    elif "allowed_actions" not in errors:
        _check_actions_served(errors, models, row.allowed_actions)
    if missing:
        raise ValidationError(errors)
    _check_scope(errors, org, row)
    if not errors:
        _check_fallback(errors, row)
        _check_renewal(errors, org, row, timezone.localdate())
    if errors:
        raise ValidationError(errors)
    row.full_clean(exclude=["approved_models", *OWNER_FIELDS, "requested_by", "fallback_row"])


def _snapshot(row: PolicyRow, models) -> dict:
    content = row.signed_content() if row.pk else {}
    if models is not None:
        content["approved_models"] = sorted(str(e.public_id) for e in models)
    return content


@transaction.atomic
def row_create(*, org, actor: Membership, approved_models: list[CatalogEntry],
               **fields) -> PolicyRow:
    """Members with approvals:request propose a row; it starts as a draft, version 1, with
    the actor as requester. Audits approval.created; emits approval.created."""
    require_member(actor, org)
    if not can_request(actor):
        raise PermissionDenied("Your role cannot request model access.")
    if unknown := set(fields) - set(FIELDS):
        raise ValidationError({name: "This field cannot be set." for name in unknown})
    row = PolicyRow(org=org, requested_by=actor, **fields)
    validate_row(org=org, row=row, models=approved_models)
    row.save()
    row.approved_models.set(approved_models)
    record_event(org=org, actor=actor, action="approval.created", obj=row,
                 changes={k: [None, v] for k, v in row.signed_content().items()})
    event_emit(org=org, kind="approval.created", subject=row,
               payload={"status": row.status, "version": row.version})
    return row


def lock_row(org, row: PolicyRow) -> PolicyRow:
    """Re-read the row under a row lock, narrowed to org, so concurrent services queue.
    Environment and caller come along (str() and the production rules need them); only
    the row itself is locked, not the environment and caller they join."""
    return (PolicyRow.objects.for_org(org).select_related("environment", "caller")
            .select_for_update(of=("self",)).get(pk=row.pk))


def void_signoffs(row: PolicyRow, reason: str) -> int:
    """Void every live signature of the row, saying why. Returns how many."""
    return row.signoffs.filter(voided_at__isnull=True).update(
        voided_at=timezone.now(), void_reason=reason[:500])


@transaction.atomic
def row_update(*, org, actor: Membership, row: PolicyRow,
               approved_models: list[CatalogEntry] | None = None, **fields) -> PolicyRow:
    """The requester, app owner or an admin edits a row while it is with the requester
    (draft, changes requested, rejected). A change of signed content bumps the version and
    voids every live signature of the old version, saying so. Audits approval.updated;
    emits approval.updated. An edit that changes nothing writes nothing."""
    require_member(actor, org)
    row = lock_row(org, row)
    if not can_edit(actor, row):
        raise PermissionDenied("Only the requester, the app owner or an admin edits this row.")
    if row.status not in EDITABLE:
        raise InvalidTransition(f"A row that is {row.get_status_display().lower()} cannot be "
                                "edited; request changes first.")
    if unknown := set(fields) - set(FIELDS):
        raise ValidationError({name: "This field cannot be changed." for name in unknown})
    before = _snapshot(row, None)
    for name, value in fields.items():
        setattr(row, name, value)
    models = list(row.approved_models.all()) if approved_models is None else approved_models
    validate_row(org=org, row=row, models=models)
    changes = diff(before, _snapshot(row, models))
    if not changes:
        return row
    row.version += 1
    row.updated_at = timezone.now()
    row.save()
    row.approved_models.set(models)
    voided = void_signoffs(row, f"The row was edited to version {row.version} after this "
                                f"signature ({', '.join(sorted(changes))} changed).")
    changes["version"] = [row.version - 1, row.version]
    if voided:
        changes["voided_signoffs"] = [None, voided]
    record_event(org=org, actor=actor, action="approval.updated", obj=row, changes=changes)
    event_emit(org=org, kind="approval.updated", subject=row,
               payload={"version": row.version, "voided_signoffs": voided})
    return row


@receiver(member_removing)
def _refuse_removing_row_owners(sender, org, membership, **kwargs):
    """A member who owns a live row (or an active deny rule) cannot leave until someone
    else takes it over: the matrix must never name an owner who is gone. Finished rows,
    requesters and signers let go (SET_NULL): the audit log and the sign-off's signer_label
    keep who they were."""
    who = Q()
    for name in OWNER_FIELDS:
        who |= Q(**{name: membership})
    rows = PolicyRow.objects.for_org(org).filter(who).exclude(status__in=FINISHED)
    names = [str(r.public_id)[:8] for r in rows[:5]]
    if names:
        raise ValidationError({"membership": f"{membership.user.email} owns or requested live "
                                             f"policy rows ({', '.join(names)}). Give them new "
                                             "owners, or revoke them, first."})
    if DenyRule.objects.for_org(org).filter(owner=membership, active=True).exists():
        raise ValidationError({"membership": f"{membership.user.email} owns active deny rules. "
                                             "Give them a new owner first."})
