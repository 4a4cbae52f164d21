"""The policy row workflow: its states and the one transition table (STYLE.md rule 3).

NEXT maps each state to the states it may move to, and names the verb (the service in
approvals/services/) that makes each move. A service asks `target_for(status, verb)`, which
raises InvalidTransition for any move the table does not list. docs/approvals.md shows this
table; keep the two in sync.
"""

from django.db import models


class InvalidTransition(Exception):
    """A service was asked for a move the transition table does not allow."""


class Status(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    SCREENING = "screening", "Screening"
    TESTING = "testing", "Testing"
    EVIDENCE = "evidence", "Evidence"
    IN_REVIEW = "in_review", "In review"
    ACTIVE = "active", "Active"
    RENEWAL_DUE = "renewal_due", "Renewal due"
    SUSPENDED = "suspended", "Suspended"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    REJECTED = "rejected", "Rejected"
    REVOKED = "revoked", "Revoked"
    EXPIRED = "expired", "Expired"


S = Status
# The states a reviewer can send back to the requester (changes requested or rejected).
REVIEW_STATES = frozenset({S.SUBMITTED, S.SCREENING, S.TESTING, S.EVIDENCE, S.IN_REVIEW})
_BACK = {S.CHANGES_REQUESTED: "request_changes", S.REJECTED: "reject"}

NEXT: dict[str, dict[str, str]] = {
    S.DRAFT: {S.SUBMITTED: "submit"},
    S.SUBMITTED: {S.SCREENING: "screen", **_BACK},
    S.SCREENING: {S.TESTING: "start_testing", **_BACK},
    S.TESTING: {S.EVIDENCE: "start_evidence", **_BACK},
    S.EVIDENCE: {S.IN_REVIEW: "send_to_review", **_BACK},
    # Activation and rejection in review come from the sign-offs (signoff_record).
    S.IN_REVIEW: {S.ACTIVE: "activate", **_BACK},
    S.ACTIVE: {S.RENEWAL_DUE: "mark_renewal_due", S.SUSPENDED: "suspend",
               S.REVOKED: "revoke", S.EXPIRED: "expire"},
    # A renewal review renews, reworks (changes requested) or revokes the row.
    S.RENEWAL_DUE: {S.ACTIVE: "renew", S.CHANGES_REQUESTED: "request_changes",
                    S.SUSPENDED: "suspend", S.REVOKED: "revoke", S.EXPIRED: "expire"},
    # Resuming returns the row to where it was suspended from (row.suspended_from).
    S.SUSPENDED: {S.ACTIVE: "resume", S.RENEWAL_DUE: "resume", S.REVOKED: "revoke",
                  S.EXPIRED: "expire"},
    # Back with the requester: edit (a new version), then resubmit for a fresh review.
    S.CHANGES_REQUESTED: {S.SUBMITTED: "submit"},
    S.REJECTED: {S.SUBMITTED: "submit"},
    S.REVOKED: {},
    S.EXPIRED: {},
}

# The requester may edit a row only while it is with them; every other state is frozen.
EDITABLE = frozenset({S.DRAFT, S.CHANGES_REQUESTED, S.REJECTED})
# States in which a row still commits people and budgets (owners cannot just leave).
FINISHED = frozenset({S.REVOKED, S.EXPIRED})

VERBS = frozenset(verb for moves in NEXT.values() for verb in moves.values())


def targets(status: str, verb: str) -> set[str]:
    """The states `verb` may move a row in `status` to (empty when not allowed)."""
    return {to for to, v in NEXT.get(status, {}).items() if v == verb}


def target_for(status: str, verb: str, *, prefer: str | None = None) -> str:
    """The one state `verb` moves a row in `status` to, or InvalidTransition. `prefer`
    picks between several targets (only resume has two)."""
    options = targets(status, verb)
    if prefer in options:
        return prefer
    if len(options) != 1:
        label = Status(status).label.lower() if status in Status.values else status
        raise InvalidTransition(f"Cannot {verb.replace('_', ' ')} a row that is {label}.")
    return options.pop()
