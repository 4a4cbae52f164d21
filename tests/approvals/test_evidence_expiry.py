"""The daily evidence expiry scan (approvals.evidence_expiry, approvals.tasks): required
evidence past valid-until tells the row's evidence and app owners and raises a finding,
once per (row, item); reminders 14 and 1 days before, once per mark."""

from datetime import datetime, time, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from approvals.evidence_expiry import EXPIRED, EXPIRING, evidence_expiry_scan
from approvals.gates import required_evidence_missing
from approvals.models import Finding, PolicyRow
from approvals.services.evidence import row_evidence_collect
from approvals.services.evidence_rules import evidence_rules_update
from approvals.tasks import evidence_expiry_scan_for_org_task, evidence_expiry_scan_task
from evidence.models import EvidenceItem
from orgs.dispatch import event_fan_out
from orgs.events import NotificationEvent
from orgs.jobs import JobRun
from orgs.notifications.models import Notification
from tests.approvals.conftest import attach_required_evidence

pytestmark = pytest.mark.django_db
S = PolicyRow.Status
K = EvidenceItem.Kind


def at(day):
    return datetime.combine(day, time(12), tzinfo=timezone.get_current_timezone())


def expiry_events(org):
    return [(e.kind, e.payload.get("period"), e.payload.get("control"))
            for e in NotificationEvent.objects.for_org(org)
            .filter(kind__in=(EXPIRED, EXPIRING)).order_by("created_at", "pk")]


@pytest.fixture
def row_with_usage_until(make_row, people):
    """make(days, status=active): a row with its required evidence, whose usage row is
    valid for `days` more days (the rest without an end)."""
    def make(days, status=S.ACTIVE, **overrides):
        row = make_row(evidence=False, **overrides)
        attach_required_evidence(row, people)
        link = row_evidence_collect(
            org=row.org, actor=people["owner"], row=row, kind=K.USAGE_ROW,
            title="Usage export", content={"note": "usage"},
            valid_until=timezone.localdate() + timedelta(days=30))
        # Time has passed since it was collected (a past date cannot be entered).
        EvidenceItem.objects.filter(pk=link.item.pk).update(
            valid_until=timezone.localdate() + timedelta(days=days))
        link.item.refresh_from_db()
        PolicyRow.objects.filter(pk=row.pk).update(status=status)
        row.refresh_from_db()
        return row, link.item
    return make


def test_time_travel_reminds_14_and_1_days_ahead_then_expires_once(
        org_a, row_with_usage_until):
    row, item = row_with_usage_until(20)
    start = timezone.localdate()
    seen = {}
    with time_machine.travel(at(start), tick=False) as traveller:
        for day in range(0, 26):
            traveller.move_to(at(start + timedelta(days=day)))
            before = len(expiry_events(org_a))
            evidence_expiry_scan(org=org_a)
            evidence_expiry_scan(org=org_a)  # a second run the same day adds nothing
            new = expiry_events(org_a)[before:]
            if new:
                seen[day] = new
    assert seen == {
        6: [(EXPIRING, f"14d:item:{item.pk}", "Usage row")],
        19: [(EXPIRING, f"1d:item:{item.pk}", "Usage row")],
        21: [(EXPIRED, f"item:{item.pk}", "Usage row")],
    }
    [finding] = Finding.objects.for_org(org_a).filter(kind=Finding.Kind.EVIDENCE_EXPIRED)
    assert finding.row == row and finding.state == Finding.State.OPEN
    assert finding.source_id == str(item.public_id)
    assert finding.owner == row.evidence_owner
    assert "Usage row of" in finding.title and finding.link.endswith(f"/{row.public_id}/")


def test_expired_evidence_reopens_the_checklist_and_the_gate_refuses(
        org_a, row_with_usage_until):
    row, item = row_with_usage_until(-1)
    assert required_evidence_missing(row, step="evidence") == [
        f"Usage row: expired on {item.valid_until:%Y-%m-%d}"]
    result = evidence_expiry_scan(org=org_a)
    assert (result.expired, result.findings, result.reminded) == (1, 1, 0)


def test_the_owners_hear_of_it_by_email(org_a, people, row_with_usage_until):
    row_with_usage_until(-3)
    evidence_expiry_scan(org=org_a)
    event_fan_out(org=org_a)
    told = set(Notification.objects.for_org(org_a).filter(event__kind=EXPIRED,
                                                          wants_email=True)
               .values_list("user__email", flat=True))
    assert told == {"owner@acme.test", "app-owner@acme.test"}  # evidence and app owner


def test_a_row_first_seen_inside_the_last_mark_gets_only_that_reminder(
        org_a, row_with_usage_until):
    _row, item = row_with_usage_until(1)
    evidence_expiry_scan(org=org_a)
    assert expiry_events(org_a) == [(EXPIRING, f"1d:item:{item.pk}", "Usage row")]


def test_a_new_revision_replaces_the_expired_item_and_is_watched_in_turn(
        org_a, people, row_with_usage_until):
    row, old = row_with_usage_until(-2)
    evidence_expiry_scan(org=org_a)
    new = row_evidence_collect(org=org_a, actor=people["owner"], row=row, kind=K.USAGE_ROW,
                               title="Usage export", content={"note": "again"},
                               valid_until=timezone.localdate() + timedelta(days=1)).item
    result = evidence_expiry_scan(org=org_a)
    assert (result.expired, result.findings, result.reminded) == (0, 0, 1)
    assert expiry_events(org_a)[-1] == (EXPIRING, f"1d:item:{new.pk}", "Usage row")
    assert old.pk != new.pk


@pytest.mark.parametrize("status", [S.DRAFT, S.IN_REVIEW, S.EXPIRED, S.REVOKED])
def test_rows_not_in_force_get_nothing(status, org_a, row_with_usage_until):
    row_with_usage_until(-2, status=status)
    assert evidence_expiry_scan(org=org_a).rows == 0
    assert expiry_events(org_a) == []


def test_evidence_the_rules_do_not_require_is_ignored(
        org_a, personas, project_a, row_with_usage_until):
    row_with_usage_until(-2, environment=project_a.environments.get(tier="staging"),
                         renewal_date=None, renewal_triggers=[])
    assert evidence_expiry_scan(org=org_a).expired == 0
    # Once the org requires a usage row in staging, its expiry counts.
    evidence_rules_update(org=org_a, actor=personas["admin"],
                          tiers={"production": [K.CATALOG_ROW], "staging": [K.USAGE_ROW]},
                          data_classes={}, data_class_tiers=["production"])
    assert evidence_expiry_scan(org=org_a).expired == 1


def test_the_beat_task_scans_every_org_once_a_day(org_a, org_b, settings,
                                                  row_with_usage_until):
    row_with_usage_until(-1)
    assert evidence_expiry_scan_task.delay().get() == 2  # eager: each org's task inline
    assert evidence_expiry_scan_task.delay().get() == 2
    assert len(expiry_events(org_a)) == 1 and expiry_events(org_b) == []
    assert JobRun.objects.filter(task="approvals.evidence_expiry_scan").count() == 2
    assert evidence_expiry_scan_for_org_task.delay(10**9).get() == {}
    entry = settings.CELERY_BEAT_SCHEDULE["approvals.evidence_expiry_scan"]
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({5}, {30})


def test_run_due_jobs_runs_the_evidence_expiry_scan(org_a, row_with_usage_until, capsys):
    row_with_usage_until(-1)
    call_command("run_due_jobs", only=["approvals.evidence_expiry_scan"])
    assert "approvals.evidence_expiry_scan: ok" in capsys.readouterr().out
    assert len(expiry_events(org_a)) == 1


@pytest.mark.parametrize("task", [evidence_expiry_scan_task, evidence_expiry_scan_for_org_task])
def test_tasks_ack_late_and_retry_a_few_times(task):
    assert task.app.amqp.router.route({}, task.name)["queue"].name == "default"
    assert task.acks_late is True and task.max_retries == 3
