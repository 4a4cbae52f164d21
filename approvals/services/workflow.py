"""One service per workflow verb. Each locks the row, checks who may act (PermissionDenied),
asks approvals/workflow.py's NEXT table for the move (InvalidTransition), checks the
verb's own guard (ValidationError), then writes one audit event and one notification event
in the same transaction and returns the row."""

from datetime import date, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from approvals.decisions.versions import decisions_changed
from approvals.gates import required_evidence_missing
from approvals.models import PolicyRow, RenewalReview
from approvals.permissions import (
    can_edit,
    can_revoke,
    can_run_pipeline,
    can_send_back,
    can_suspend,
)
from approvals.selectors import expiry_cutoff, row_holds_until
from approvals.services.evidence import collect_catalog_evidence
from approvals.services.rows import lock_row, require_member, validate_row, void_signoffs
from approvals.services.screening import screen, screening_errors
from approvals.workflow import Status, target_for
from orgs.audit import record_event
from orgs.events import NotificationEvent, event_emit
from orgs.models import Membership
from projects.models import ApiKey

WARNING = NotificationEvent.Severity.WARNING
# A renewal review stays open while its row is due for renewal (or suspended from there);
# any other move ends it, with the outcome the move amounts to (blank: it lapsed).
_REVIEW_OUTCOME = {Status.CHANGES_REQUESTED: RenewalReview.Outcome.REWORK,
                   Status.REVOKED: RenewalReview.Outcome.REVOKE,
                   Status.ACTIVE: RenewalReview.Outcome.RENEW}


def close_open_review(row: PolicyRow, *, actor=None) -> int:
    """End the open renewal review of a row that left renewal (revoked, expired, sent back
    or renewed by any path), so the next renewal starts a fresh one. Returns how many."""
    if row.status in (Status.RENEWAL_DUE, Status.SUSPENDED):
        return 0
    open_reviews = RenewalReview.objects.for_org(row.org_id).filter(row=row,
                                                                 decided_at__isnull=True)
    # Who decided a proposed renewal stays its decider; the signatures are in the audit log.
    open_reviews.filter(decided_by__isnull=True).update(decided_by=actor)
    return open_reviews.update(outcome=_REVIEW_OUTCOME.get(row.status, ""),
                               decided_at=timezone.now())


def move(*, org, actor, row: PolicyRow, verb: str, kind: str, prefer: str | None = None,
         changes: dict | None = None, payload: dict | None = None,
         severity: str = NotificationEvent.Severity.INFO) -> PolicyRow:
    """Apply one move of the transition table to a locked row, audit it as `kind` and
    emit `kind`. Raises InvalidTransition when NEXT does not list the move."""
    old = row.status
    row.status = target_for(old, verb, prefer=prefer)
    row.status_changed_at = timezone.now()
    row.save()
    if old in (Status.RENEWAL_DUE, Status.SUSPENDED):
        close_open_review(row, actor=actor)
    decisions_changed(org)
    record_event(org=org, actor=actor, action=kind, obj=row,
                 changes={"status": [old, row.status], **(changes or {})})
    event_emit(org=org, kind=kind, subject=row, severity=severity,
               payload={"status": row.status, "from": old, "version": row.version,
                        **(payload or {})})
    return row


def _require(allowed: bool, message: str):
    if not allowed:
        raise PermissionDenied(message)


def _comment(comment: str, field: str = "comment") -> str:
    comment = (comment or "").strip()
    if not comment:
        raise ValidationError({field: "Say why; the requester and the audit log need it."})
    return comment


@transaction.atomic
def row_submit(*, org, actor, row: PolicyRow) -> PolicyRow:
    """The requester, app owner or an admin submits a draft (or resubmits a row that came
    back). The content is checked again (a renewal date may have passed meanwhile) and
    every live signature is voided: each review round starts clean. Audits and emits
    approval.submitted."""
    require_member(actor, org)
    row = lock_row(org, row)
    _require(can_edit(actor, row), "Only the requester, the app owner or an admin submits.")
    target_for(row.status, "submit")
    validate_row(org=org, row=row, models=list(row.approved_models.all()))
    voided = void_signoffs(row, "The row was resubmitted for a new review.")
    row.screening, row.screened_at = {}, None
    return move(org=org, actor=actor, row=row, verb="submit", kind="approval.submitted",
                changes={"voided_signoffs": [None, voided]} if voided else None)


def _check_credential_live(row: PolicyRow):
    # The route must be testable with the row's own key: a revoked or expired key cannot be.
    # A key rotated since the row was written lives on in its successor (same lineage).
    key = row.api_key
    if key is not None and key.status == key.Status.EXPIRED and key.rotated_at:
        key = ApiKey.objects.for_org(row.org_id).filter(lineage=key.lineage).first()
    if key is not None and key.status not in (key.Status.ACTIVE, key.Status.ROTATING):
        raise ValidationError({"api_key": f"The key {key.prefix}… is "
                                          f"{key.Status(key.status).label.lower()}; name a live "
                                          "key of this caller."})


@transaction.atomic
def row_screen(*, org, actor, row: PolicyRow) -> PolicyRow:
    """Platform screens a submitted row: its API key (if named) is live, and every model
    is in the current catalog snapshot of its source, available, and able to serve every
    allowed action. A failure
    is a ValidationError naming each model and problem; success records the findings
    (row.screening) and moves to screening. Audits and emits approval.screened."""
    require_member(actor, org)
    row = lock_row(org, row)
    _require(can_run_pipeline(actor, row), "Only platform (org admins) screens rows.")
    target_for(row.status, "screen")
    _check_credential_live(row)
    findings = screen(org=org, row=row)
    if not findings["ok"]:
        raise screening_errors(findings)
    row.screening, row.screened_at = findings, timezone.now()
    # The catalog row closes the first line of the evidence checklist: collected here from
    # the product's own data, named in this move's one audit event.
    item = collect_catalog_evidence(org=org, row=row, findings=findings)
    return move(org=org, actor=actor, row=row, verb="screen", kind="approval.screened",
                changes={"screening": [None, findings],
                         "catalog_evidence": [None, str(item.public_id)]},
                payload={"catalog_evidence": str(item.public_id)})


def _gate(row: PolicyRow, step: str):
    if missing := required_evidence_missing(row, step=step):
        raise ValidationError({"evidence": [f"Required evidence: {item}" for item in missing]})


@transaction.atomic
def row_start_testing(*, org, actor, row: PolicyRow) -> PolicyRow:
    """Platform starts the smoke tests of a screened row. Audits and emits
    approval.testing_started."""
    require_member(actor, org)
    row = lock_row(org, row)
    _require(can_run_pipeline(actor, row), "Only platform (org admins) moves rows to testing.")
    target_for(row.status, "start_testing")
    return move(org=org, actor=actor, row=row, verb="start_testing",
                kind="approval.testing_started")


@transaction.atomic
def row_start_evidence(*, org, actor, row: PolicyRow) -> PolicyRow:
    """Platform moves a tested row to evidence collection once the testing gate passes
    (approvals/gates.py). Audits and emits approval.evidence_started."""
    require_member(actor, org)
    row = lock_row(org, row)
    _require(can_run_pipeline(actor, row), "Only platform (org admins) moves rows to evidence.")
    target_for(row.status, "start_evidence")
    _gate(row, "testing")
    return move(org=org, actor=actor, row=row, verb="start_evidence",
                kind="approval.evidence_started")


@transaction.atomic
def row_send_to_review(*, org, actor, row: PolicyRow) -> PolicyRow:
    """Platform sends a row with its evidence to the three sign-offs once the evidence gate
    passes. Audits and emits approval.sent_to_review."""
    require_member(actor, org)
    row = lock_row(org, row)
    _require(can_run_pipeline(actor, row), "Only platform (org admins) sends rows to review.")
    target_for(row.status, "send_to_review")
    _gate(row, "evidence")
    return move(org=org, actor=actor, row=row, verb="send_to_review",
                kind="approval.sent_to_review")


@transaction.atomic
def row_request_changes(*, org, actor, row: PolicyRow, comment: str) -> PolicyRow:
    """Platform or a security/finance reviewer (never the requester) sends a row under
    review, or due for renewal, back to the requester with a comment. Audits and emits
    approval.changes_requested."""
    require_member(actor, org)
    row = lock_row(org, row)
    _require(can_send_back(actor, row), "Only platform or a reviewer requests changes.")
    target_for(row.status, "request_changes")
    comment = _comment(comment)
    return move(org=org, actor=actor, row=row, verb="request_changes",
                kind="approval.changes_requested", changes={"comment": [None, comment]},
                payload={"comment": comment})


@transaction.atomic
def row_reject(*, org, actor, row: PolicyRow, comment: str) -> PolicyRow:
    """Platform or a security/finance reviewer (never the requester) rejects a row under
    review; it goes back to the requester. Reviewers in review reject by signing
    (signoff_record). Audits and emits approval.rejected."""
    require_member(actor, org)
    row = lock_row(org, row)
    _require(can_send_back(actor, row), "Only platform or a reviewer rejects rows.")
    target_for(row.status, "reject")
    comment = _comment(comment)
    return move(org=org, actor=actor, row=row, verb="reject", kind="approval.rejected",
                changes={"comment": [None, comment]}, payload={"comment": comment})


def _system_or_platform(actor, org, row, message):
    # actor=None is the system (the jobs issue's scheduled sweep).
    if actor is not None:
        require_member(actor, org)
        _require(can_run_pipeline(actor, row), message)


@transaction.atomic
def row_mark_renewal_due(*, org, actor, row: PolicyRow, reason: str = "") -> PolicyRow:
    """The renewal sweep or a catalog-change trigger (actor=None), or platform, opens the
    renewal review of an active row that has a renewal date; `reason` says why when it is
    not the date (e.g. "gpt-4 was removed from the catalog"). Audits and emits
    approval.renewal_due."""
    row = lock_row(org, row)
    _system_or_platform(actor, org, row, "Only platform opens a renewal review.")
    target_for(row.status, "mark_renewal_due")
    if row.renewal_date is None:
        raise ValidationError({"renewal_date": "This row has no renewal date."})
    why = {"reason": reason} if reason else {}
    return move(org=org, actor=actor, row=row, verb="mark_renewal_due",
                kind="approval.renewal_due",
                changes={"reason": [None, reason]} if reason else None,
                payload={"renewal_date": row.renewal_date, "audience": row_audience(row),
                         **why})


@transaction.atomic
def row_suspend(*, org, actor, row: PolicyRow, reason: str) -> PolicyRow:
    """A security reviewer (approvals:suspend) suspends an active row, or one due for
    renewal, e.g. in an incident; the system (actor=None: the monitoring issue's budget
    cutoff) may too. The gateway denies the row until resumed. Audits and emits
    approval.suspended (warning)."""
    row = lock_row(org, row)
    if actor is not None:
        require_member(actor, org)
        _require(can_suspend(actor, row), "Only security reviewers suspend rows.")
    target_for(row.status, "suspend")
    reason = _comment(reason, "reason")
    row.suspended_from = row.status
    return move(org=org, actor=actor, row=row, verb="suspend", kind="approval.suspended",
                changes={"reason": [None, reason]}, payload={"reason": reason},
                severity=WARNING)


@transaction.atomic
def row_resume(*, org, actor, row: PolicyRow) -> PolicyRow:
    """A security reviewer lifts a suspension: the row returns to where it was (active or
    renewal due). Audits and emits approval.resumed."""
    require_member(actor, org)
    row = lock_row(org, row)
    _require(can_suspend(actor, row), "Only security reviewers resume rows.")
    prefer = row.suspended_from or Status.ACTIVE
    target_for(row.status, "resume", prefer=prefer)
    row.suspended_from = ""
    return move(org=org, actor=actor, row=row, verb="resume", kind="approval.resumed",
                prefer=prefer)


@transaction.atomic
def row_revoke(*, org, actor, row: PolicyRow, reason: str) -> PolicyRow:
    """A security reviewer or platform revokes an active, due or suspended row for good.
    Audits and emits approval.revoked (warning)."""
    require_member(actor, org)
    row = lock_row(org, row)
    _require(can_revoke(actor, row), "Only security reviewers or platform revoke rows.")
    target_for(row.status, "revoke")
    reason = _comment(reason, "reason")
    return move(org=org, actor=actor, row=row, verb="revoke", kind="approval.revoked",
                changes={"reason": [None, reason]}, payload={"reason": reason},
                severity=WARNING)


def row_audience(row: PolicyRow) -> list[int]:
    """User ids of the people a row's renewal concerns: its app, engineering, finance and
    evidence owners and its requester (orgs.notifications reads payload["audience"]).
    One query."""
    ids = {row.app_owner_id, row.engineering_owner_id, row.finance_owner_id,
           row.evidence_owner_id, row.requested_by_id} - {None}
    return sorted(Membership.objects.for_org(row.org_id).filter(pk__in=ids)
                  .values_list("user_id", flat=True).distinct())


@transaction.atomic
def row_expire(*, org, actor=None, row: PolicyRow, today: date | None = None,
               grace_days: int | None = None) -> PolicyRow:
    """The renewal sweep (actor=None; approvals/jobs.py) or platform expires a row past
    its renewal date without renewal: the renewal date is the last day it holds (the
    previous one while a proposed renewal waits for its sign-offs), plus the org's expiry
    grace days (approval settings; `grace_days` overrides them). An open renewal review
    lapses. Audits and emits approval.expired (warning), to the row's owners too."""
    row = lock_row(org, row)
    _system_or_platform(actor, org, row, "Only platform or the renewal sweep expires rows.")
    target_for(row.status, "expire")
    today = today or timezone.localdate()
    cutoff = expiry_cutoff(org=org, today=today) if grace_days is None \
        else today - timedelta(days=grace_days)
    holds_until = row_holds_until(org=org, row=row)
    if holds_until is None or holds_until >= cutoff:
        raise ValidationError({"renewal_date": "This row is not past its renewal date "
                                               "(and grace days)."})
    return move(org=org, actor=actor, row=row, verb="expire", kind="approval.expired",
                payload={"renewal_date": row.renewal_date, "holds_until": holds_until,
                         "audience": row_audience(row)}, severity=WARNING)
