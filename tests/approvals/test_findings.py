"""finding_raise: once per (org, kind, dedupe_key), audited and announced with it."""

import pytest

from approvals.findings import finding_raise
from approvals.models import Finding
from orgs.audit import AuditEvent
from orgs.events import NotificationEvent

pytestmark = pytest.mark.django_db


def test_a_finding_is_raised_once_with_its_audit_and_event(org_a, row, people):
    finding, created = finding_raise(
        org=org_a, kind=Finding.Kind.SPEND_THRESHOLD, dedupe_key=f"{row.public_id}:80:2026-12",
        title="Spend passed 80 % of the monthly budget", row=row, detail={"percent": 80})
    again, created_again = finding_raise(
        org=org_a, kind=Finding.Kind.SPEND_THRESHOLD, dedupe_key=f"{row.public_id}:80:2026-12",
        title="Spend passed 80 % of the monthly budget", row=row)
    assert created and not created_again and again.pk == finding.pk
    assert finding.state == Finding.State.OPEN and finding.project == row.project
    assert finding.owner == people["app_owner"]
    assert AuditEvent.objects.filter(org=org_a, action="approval.finding_raised").count() == 1
    event = NotificationEvent.objects.get(org=org_a, kind="finding.raised")
    assert event.payload["audience"] == [people["app_owner"].user_id]


def test_a_finding_cannot_name_another_orgs_row(org_a, org_b, row):
    with pytest.raises(ValueError):
        finding_raise(org=org_b, kind=Finding.Kind.CATALOG_CHANGE, dedupe_key="x",
                      title="Changed", row=row)
    assert not Finding.objects.exists()
