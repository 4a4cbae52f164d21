"""Sign-offs: security, finance and the app owner each sign one version of a row."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm

from approvals.decisions.versions import decisions_changed
from approvals.gates import required_evidence_missing
from approvals.models import PolicyRow, RenewalReview, SignOff
from approvals.permissions import GRANT_PERMS, can_grant_role, grantee_refusal, sign_refusal
from approvals.selectors import renewal_review_open
from approvals.services.rows import lock_row, require_member
from approvals.services.workflow import close_open_review
from approvals.workflow import InvalidTransition, Status, target_for
from orgs.audit import record_event
from orgs.events import event_emit


def _fully_approved(row: PolicyRow, live: list[SignOff], content_hash: str) -> bool:
    """All three roles approved this very version and content."""
    approved = {s.role for s in live if s.decision == SignOff.Decision.APPROVE
                and s.row_version == row.version and s.content_hash == content_hash}
    return approved == set(SignOff.Role.values)


def _check_fallback_active(row: PolicyRow, renewing: bool):
    # Fallbacks never inherit approval: the fallback's own row must be active now (or, for
    # a renewal, still in force: it may be due for renewal itself).
    ok = (Status.ACTIVE, Status.RENEWAL_DUE) if renewing else (Status.ACTIVE,)
    if row.fallback_row_id and row.fallback_row.status not in ok:
        raise ValidationError({"fallback_row": "The fallback row is not active; it needs its "
                                               "own approval before this row can go live."})


# The moves a deciding signature makes: (verb, notification kind) in review and in renewal.
_MOVES = {
    (False, SignOff.Decision.REJECT): ("reject", "approval.rejected"),
    (False, SignOff.Decision.APPROVE): ("activate", "approval.activated"),
    (True, SignOff.Decision.REJECT): ("request_changes", "approval.changes_requested"),
    (True, SignOff.Decision.APPROVE): ("renew", "approval.renewed"),
}


def _check_evidence_current(row: PolicyRow):
    # Evidence may have expired or been rejected while the row was in review: the default
    # is no, so the last approval does not activate it.
    if missing := required_evidence_missing(row, step="evidence"):
        raise ValidationError({"evidence": [f"Required evidence: {m}" for m in missing]})


def _apply_outcome(row: PolicyRow, live: list[SignOff], decision: str, content_hash: str,
                   *, renewing: bool, actor) -> str:
    """Move the row if this signature decides it; return the notification kind. In a
    renewal a rejection is rework (changes requested) and the third approval renews; both
    close the renewal review."""
    if decision == SignOff.Decision.APPROVE and not _fully_approved(row, live, content_hash):
        return "approval.signed"
    verb, kind = _MOVES[(renewing, decision)]
    if decision == SignOff.Decision.APPROVE:
        _check_fallback_active(row, renewing)
        _check_evidence_current(row)
    row.status = target_for(row.status, verb)
    if verb == "activate":
        row.activated_at = timezone.now()
    row.status_changed_at = timezone.now()
    row.save()
    if renewing:
        close_open_review(row, actor=actor)
    decisions_changed(row.org_id)
    return kind


def _signing_round(org, row: PolicyRow) -> bool:
    """Whether the row is signed now, and whether as a renewal: in review, or due for
    renewal with a renewal proposed (renewal review decided renew). True for a renewal."""
    if row.status == Status.IN_REVIEW:
        return False
    if row.status == Status.RENEWAL_DUE:
        review = renewal_review_open(org=org, row=row)
        if review is not None and review.outcome == RenewalReview.Outcome.RENEW:
            return True
        raise InvalidTransition("This row is due for renewal; it is signed once its renewal "
                                "review proposes a renewal.")
    raise InvalidTransition(f"Rows are signed in review or renewal; this one is "
                            f"{row.get_status_display().lower()}.")


@transaction.atomic
def signoff_record(*, org, actor, row: PolicyRow, role: str, decision: str,
                   comment: str = "") -> PolicyRow:
    """A reviewer signs one role of a row in review, or of a renewal (renewal due, its
    review decided renew): approve, or reject with a comment. Who may sign is
    permissions.sign_refusal (matching org scope, the row's app owner, or a guardian grant;
    separation of duties), the same in both. The signature stores the row's version and
    content hash. In review a rejection moves the row to rejected and the third approval of
    the current version activates it; in renewal a rejection sends it to changes requested
    (rework) and the third approval renews it (active), closing the renewal review.
    Audits approval.signed (approval.renewed for the renewing signature); emits
    approval.signed, approval.rejected, approval.activated, approval.changes_requested or
    approval.renewed."""
    require_member(actor, org)
    row = lock_row(org, row)
    renewing = _signing_round(org, row)
    if decision not in SignOff.Decision.values:
        raise ValidationError({"decision": "Approve or reject."})
    live = list(row.signoffs.filter(voided_at__isnull=True))
    if refusal := sign_refusal(actor, row, role, live_signoffs=live):
        raise PermissionDenied(refusal)
    if any(s.role == role for s in live):
        raise ValidationError({"role": f"The {SignOff.Role(role).label.lower()} sign-off of "
                                       "this row is already given."})
    comment = (comment or "").strip()
    if decision == SignOff.Decision.REJECT and not comment:
        raise ValidationError({"comment": "Say why you reject the row."})
    content_hash = row.content_hash()
    signoff = SignOff.objects.create(
        org=org, row=row, role=role, signer=actor, signer_label=actor.user.email,
        decision=decision, comment=comment, row_version=row.version, content_hash=content_hash)
    old = row.status
    kind = _apply_outcome(row, [*live, signoff], decision, content_hash, renewing=renewing,
                          actor=actor)
    changes = {"role": [None, role], "decision": [None, decision],
               "row_version": [None, row.version], "content_hash": [None, content_hash]}
    if comment:
        changes["comment"] = [None, comment]
    if row.status != old:
        changes["status"] = [old, row.status]
    action = "approval.renewed" if kind == "approval.renewed" else "approval.signed"
    record_event(org=org, actor=actor, action=action, obj=row, changes=changes)
    event_emit(org=org, kind=kind, subject=row,
               payload={"status": row.status, "role": role, "decision": decision,
                        "version": row.version, "signoff": str(signoff.public_id)})
    return row


@transaction.atomic
def row_reviewer_grant(*, org, actor, row: PolicyRow, membership, role: str) -> PolicyRow:
    """Name a one-off reviewer for one role of one row (a guardian grant on the row). Only
    a holder of that same authority delegates it (permissions.can_grant_role: security
    names security, finance names finance, admins name app owners), and only to a member
    who may be given it (permissions.grantee_refusal: not an auditor, not the requester for
    security or finance). Separation of duties still applies when they sign. Audits
    approval.reviewer_granted (shown on the row's timeline) and emits it."""
    require_member(actor, org)
    row = lock_row(org, row)
    if role not in GRANT_PERMS:
        raise ValidationError({"role": "Choose security, finance or app owner."})
    if not can_grant_role(actor, row, role):
        label = SignOff.Role(role).label.lower()
        raise PermissionDenied(f"Only a holder of {label} authority names a {label} "
                               "reviewer.")
    if refusal := grantee_refusal(membership, row, role):
        raise ValidationError({"member": refusal})
    assign_perm(GRANT_PERMS[role], membership.user, row)
    record_event(org=org, actor=actor, action="approval.reviewer_granted", obj=row,
                 changes={"reviewer": [None, membership.user.email], "role": [None, role]})
    event_emit(org=org, kind="approval.reviewer_granted", subject=row,
               payload={"reviewer": str(membership.public_id), "role": role})
    return row
