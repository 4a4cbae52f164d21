"""The daily evidence expiry scan (issue #8): a required evidence item past its
valid-until reopens the row's checklist (approvals/checklist.py already judges it
expired, and the gate blocks on it). The scan tells the row's evidence and app owners,
and raises an EVIDENCE_EXPIRED finding; before that it reminds them 14 and 1 days ahead.

Each effect happens once however often the scan runs and however many workers run it:
- the expired notice and the reminders go through orgs.reminders.reminder_send, one
  Reminder row per (row, kind, period) where the period names the item (and the mark),
  created in the same transaction as its notification event (the outbox);
- the finding goes through approvals.findings.finding_raise, unique per dedupe key
  (row and item).
Only the items that close a required line count: a newer revision replaces an expired one
(and starts its own reminders), and evidence a row carries beyond its rules is ignored.
"""

from dataclasses import asdict, dataclass
from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from approvals.checklist import EvidenceRules, State, evidence_rules_get, row_checklist
from approvals.findings import finding_raise
from approvals.lint import IN_FORCE
from approvals.models import Finding, PolicyRow, RowEvidence
from orgs.events import NotificationEvent
from orgs.models import Membership
from orgs.reminders import reminder_send

EXPIRED = "evidence.expired"
EXPIRING = "evidence.expiring"
MARKS = (14, 1)  # days before valid-until, largest first
Severity = NotificationEvent.Severity


@dataclass
class ExpiryResult:
    """What one scan of one org did (effects that happened in this run)."""
    rows: int = 0
    expired: int = 0
    reminded: int = 0
    findings: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def _row_path(row) -> str:
    return reverse("approvals:row_detail", args=[row.org.slug, row.public_id])


def _audience(row) -> list[int]:
    """User ids of the row's evidence owner and app owner (one query)."""
    ids = {row.evidence_owner_id, row.app_owner_id} - {None}
    return sorted(Membership.objects.for_org(row.org_id).filter(pk__in=ids)
                  .values_list("user_id", flat=True))


def _facts(row, line, today, audience) -> dict:
    item = line.item
    return {"row": str(row.public_id), "name": str(row), "control": line.label,
            "item": str(item.public_id), "title": item.title, "kind": item.kind,
            "valid_until": item.valid_until, "days_left": (item.valid_until - today).days,
            "link": settings.BASE_URL + _row_path(row), "audience": audience}


def _expired(org, row, line, today, audience, result: ExpiryResult):
    item = line.item
    result.expired += reminder_send(org=org, subject=row, kind=EXPIRED,
                                    period=f"item:{item.pk}", severity=Severity.WARNING,
                                    payload=_facts(row, line, today, audience))
    _finding, created = finding_raise(
        org=org, kind=Finding.Kind.EVIDENCE_EXPIRED,
        dedupe_key=f"evidence_expired:{row.public_id}:{item.public_id}",
        title=f"{line.label} of {row} expired on {item.valid_until:%Y-%m-%d}",
        detail={"control": line.label, "item": str(item.public_id), "title": item.title,
                "valid_until": item.valid_until.isoformat()},
        row=row, source=item, link=_row_path(row),
        owner=row.evidence_owner or row.app_owner)
    result.findings += created


def _expiring(org, row, line, today, audience, result: ExpiryResult):
    left = (line.item.valid_until - today).days
    reached = [m for m in MARKS if 0 <= left <= m]
    if not reached:
        return
    mark = min(reached)  # only the nearest mark: a scan that starts late skips the 14-day
    result.reminded += reminder_send(
        org=org, subject=row, kind=EXPIRING, period=f"{mark}d:item:{line.item.pk}",
        severity=Severity.WARNING if mark == 1 else Severity.INFO,
        payload={**_facts(row, line, today, audience), "mark": mark})


@transaction.atomic
def evidence_expiry_row(*, org, row: PolicyRow, today: date, rules: EvidenceRules,
                        result: ExpiryResult):
    """The scan's effects on one row in force, in one transaction: for each required line
    whose item is past valid-until, the expired notice (evidence.expired) and the finding;
    for each whose item ends within a mark, that mark's reminder (evidence.expiring)."""
    lines = [line for line in row_checklist(row, today=today, rules=rules).lines
             if line.item is not None and line.item.valid_until is not None]
    if not lines:
        return
    audience = _audience(row)
    for line in lines:
        if line.state == State.EXPIRED:
            _expired(org, row, line, today, audience, result)
        else:
            _expiring(org, row, line, today, audience, result)


def evidence_expiry_scan(*, org, today: date | None = None) -> ExpiryResult:
    """The daily evidence expiry scan of one org (the approvals.evidence_expiry_scan_for_org
    task; actor: the system). Rows in force (active, renewal due, suspended) with an
    attached item ending within the first mark or already past it; each row in its own
    transaction (evidence_expiry_row), so a dead worker loses only the row it was on.
    Audits approval.finding_raised through finding_raise; reminders are not audited
    (they change nothing), like the renewal scan's."""
    today = today or timezone.localdate()
    rules = evidence_rules_get(org=org)
    horizon = today + timedelta(days=MARKS[0])
    candidates = (RowEvidence.objects.for_org(org)
                  .filter(row__status__in=IN_FORCE, item__valid_until__lte=horizon)
                  .values("row_id"))
    rows = list(PolicyRow.objects.for_org(org).filter(pk__in=candidates)
                .select_related("org", "environment", "caller", "project",
                                "evidence_owner", "app_owner")
                .order_by("pk"))
    result = ExpiryResult()
    for row in rows:
        evidence_expiry_row(org=org, row=row, today=today, rules=rules, result=result)
        result.rows += 1
    return result
