"""The renewal scan of the approval matrix: reminders before a row's renewal date, the move
to renewal due, an overdue notice, and expiry once the grace period has passed.

Each effect happens once per (row, kind, period), however often the scan runs and however
many workers run it at the same time:

- reminders and the overdue notice go through orgs.reminders.reminder_send: a unique
  Reminder row created in the same transaction as its notification event (the outbox that
  orgs/dispatch.py delivers from, retried, and marks sent);
- the state changes (renewal due, expired) are moves of the state machine on a locked
  row: a second run finds the row already moved, and its InvalidTransition counts as done.

Every row is handled in its own transaction under its row lock, so a worker that dies
mid-batch loses only the row it was on; the redelivered task (acks_late) redoes that one
and skips the rest.
"""

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from approvals.models import PolicyRow, RenewalReview, default_reminder_days
from approvals.selectors import EXPIRABLE, approval_settings_get, row_holds_until
from approvals.services import row_expire, row_mark_renewal_due
from approvals.services.rows import lock_row
from approvals.services.workflow import row_audience
from approvals.workflow import InvalidTransition, Status
from orgs.events import NotificationEvent
from orgs.reminders import reminder_send

REMINDER = "approval.renewal_reminder"
OVERDUE = "approval.renewal_overdue"
Severity = NotificationEvent.Severity


@dataclass
class ScanResult:
    """What one scan of one org did (each count: effects that happened in this run)."""
    rows: int = 0
    reminded: int = 0
    marked_due: int = 0
    overdue: int = 0
    expired: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Policy:
    """The org's renewal settings: reminder marks (days before, largest first) and grace."""
    marks: tuple[int, ...]
    grace_days: int

    @property
    def window(self) -> int:
        # Rows within the first (largest) mark are due for renewal; 30 days without marks.
        return self.marks[0] if self.marks else max(default_reminder_days())


def _policy(org) -> Policy:
    found = approval_settings_get(org=org)
    marks = {d for d in (found.reminder_days or []) if isinstance(d, int) and d > 0}
    return Policy(marks=tuple(sorted(marks, reverse=True)),
                  grace_days=int(found.expiry_grace_days or 0))


def _facts(row: PolicyRow, until: date, today: date, policy: Policy) -> dict:
    """What a renewal notification says about its row (no secrets live on a row). `until`
    is the last day the row holds (row_holds_until)."""
    return {"row": str(row.public_id), "name": str(row), "status": row.status,
            "renewal_date": until, "days_left": (until - today).days,
            "grace_days": policy.grace_days,
            "expires_after": until + timedelta(days=policy.grace_days),
            "audience": row_audience(row)}


def _remind(org, row, until, today, policy) -> bool:
    """The reminder of the nearest mark the row has reached, if not sent yet. The period
    names the renewal date too, so a renewed row is reminded again before its next one."""
    left = (until - today).days
    reached = [m for m in policy.marks if 0 <= left <= m]
    if not reached:
        return False
    mark = min(reached)
    return reminder_send(org=org, subject=row, kind=REMINDER,
                         period=f"{mark}d:{until.isoformat()}",
                         payload={**_facts(row, until, today, policy), "mark": mark},
                         severity=Severity.WARNING if mark == 1 else Severity.INFO)


def _mark_due(org, row) -> bool:
    try:
        row_mark_renewal_due(org=org, actor=None, row=row)
    except InvalidTransition:  # another run moved it first: done
        return False
    return True


def _expire(org, row, today, policy) -> bool:
    try:
        row_expire(org=org, actor=None, row=row, today=today, grace_days=policy.grace_days)
    except (InvalidTransition, ValidationError):  # expired, or renewed, meanwhile: done
        return False
    return True


@transaction.atomic
def renewal_scan_row(*, org, row: PolicyRow, today: date, policy: Policy,
                     result: ScanResult):
    """The scan's effects on one row, decided and applied under its row lock (so a
    concurrent scan or a renewal in between is seen): expire past renewal + grace; else
    the overdue notice past the renewal date or the due reminder before it, and the move
    of an active row within the first mark (or past it) to renewal due. Adds to result."""
    row = lock_row(org, row)
    # A renewal proposed but not yet re-signed holds only until the previous date.
    until = row_holds_until(org=org, row=row) if row.status in EXPIRABLE else None
    if until is None:
        return
    left = (until - today).days
    if left < -policy.grace_days:
        # Expiry is its own notice (approval.expired, to the same people): no overdue first.
        result.expired += _expire(org, row, today, policy)
        return
    if left < 0:
        result.overdue += reminder_send(
            org=org, subject=row, kind=OVERDUE, period=f"overdue:{until}",
            payload=_facts(row, until, today, policy), severity=Severity.WARNING)
    else:
        result.reminded += _remind(org, row, until, today, policy)
    # Also an active row already past its date (resumed late, or the scan did not run).
    if row.status == Status.ACTIVE and left <= policy.window:
        result.marked_due += _mark_due(org, row)


def renewal_scan(*, org, today: date | None = None,
                 after_row: Callable[[int], None] | None = None) -> ScanResult:
    """The daily renewal scan of one org (called by the approvals.renewal_scan_for_org
    task, actor: the system). For each row in force (active, renewal due, suspended) with
    a renewal date within the first reminder mark or past it: see renewal_scan_row. Each
    row is its own transaction; audits approval.renewal_due / approval.expired through
    the workflow services and emits the reminder and overdue events once each.
    `after_row` runs after each row (the task's test-only delay hook)."""
    today = today or timezone.localdate()
    policy = _policy(org)
    result = ScanResult()
    # Every candidate, not a batch: the set is bounded by the renewal window (rows past it
    # expire and leave), and a batch would starve the rows behind ones already reminded.
    horizon = today + timedelta(days=policy.window)
    unsigned = RenewalReview.objects.awaiting_signatures().filter(
        row=OuterRef("pk"), renews_from__lte=horizon)
    ids = list(PolicyRow.objects.for_org(org).filter(status__in=EXPIRABLE).filter(
        Q(renewal_date__lte=horizon) | Q(Exists(unsigned)),
    ).order_by("renewal_date", "pk").values_list("pk", flat=True))
    for pk in ids:
        renewal_scan_row(org=org, row=PolicyRow(pk=pk, org=org), today=today, policy=policy,
                         result=result)
        result.rows += 1
        if after_row is not None:
            after_row(pk)
    return result
