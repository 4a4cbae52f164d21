"""The renewal scan (approvals.jobs, approvals.tasks): reminders 30/14/7/1 days before a
row's renewal date, the move to renewal due, the overdue notice and expiry after the grace
period, each exactly once; time travel through the whole cycle; the tasks' contract."""

from datetime import datetime, time, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from approvals.decisions.engine import Reason
from approvals.decisions.service import clear_local_cache as clear_indexes
from approvals.decisions.service import decide
from approvals.jobs import OVERDUE, REMINDER, renewal_scan
from approvals.models import ApprovalSettings, PolicyRow, SignOff
from approvals.selectors import rows_past_renewal, rows_renewing_soon
from approvals.services import row_expire
from approvals.tasks import renewal_scan_for_org_task, renewal_scan_task
from orgs.audit import AuditEvent
from orgs.dispatch import event_fan_out
from orgs.events import NotificationEvent
from orgs.jobs import JobRun
from orgs.notifications.models import Notification
from orgs.reminders import Reminder
from projects.credentials import clear_local_cache as clear_credentials
from tests.approvals.conftest import attach_required_evidence, propose_renewal, sign
from tests.approvals.decisions.conftest import ask
from tests.projects.conftest import make_key

pytestmark = pytest.mark.django_db
S = PolicyRow.Status
RENEWAL_KINDS = (REMINDER, OVERDUE, "approval.renewal_due", "approval.expired")


def renewal_events(org):
    """[(kind, period or None)] of the renewal events, oldest first."""
    return [(e.kind, e.payload.get("period")) for e in NotificationEvent.objects.for_org(org)
            .filter(kind__in=RENEWAL_KINDS).order_by("created_at", "pk")]


def at(day):
    """Noon UTC of `day`: the scan runs on calendar days."""
    return datetime.combine(day, time(12), tzinfo=timezone.get_current_timezone())


@pytest.fixture
def active_row(make_row):
    """make(days): an active row, activated yesterday, renewing `days` from today."""
    def make(days=30, status=S.ACTIVE, **overrides):
        row = make_row(status, renewal_date=timezone.localdate() + timedelta(days=days),
                       **overrides)
        PolicyRow.objects.filter(pk=row.pk).update(
            activated_at=timezone.now() - timedelta(days=1))
        row.refresh_from_db()
        return row
    return make


def grace(org, days, reminder_days=None):
    fields = {"expiry_grace_days": days}
    if reminder_days is not None:
        fields["reminder_days"] = reminder_days
    ApprovalSettings.objects.create(org=org, **fields)


def test_time_travel_31_days_reminds_on_each_mark_once_then_expires_after_grace(
        org_a, people, production, caller_a, active_row):
    grace(org_a, 2)
    start = timezone.localdate()
    _key, secret = make_key(org_a, people["owner"], production, caller_a)
    row = active_row(days=30)
    seen = {}
    with time_machine.travel(at(start), tick=False) as traveller:
        for day in range(0, 34):
            traveller.move_to(at(start + timedelta(days=day)))
            if day == 0:
                clear_indexes(), clear_credentials()
                assert decide(secret, [ask()])[1][0].allow
            before = len(renewal_events(org_a))
            renewal_scan(org=org_a)
            renewal_scan(org=org_a)  # a second run the same day changes nothing
            for event in renewal_events(org_a)[before:]:
                seen[event] = day
        clear_indexes(), clear_credentials()
        decision = decide(secret, [ask()])[1][0]
    date = row.renewal_date.isoformat()
    assert seen == {
        (REMINDER, f"30d:{date}"): 0, ("approval.renewal_due", None): 0,
        (REMINDER, f"14d:{date}"): 16, (REMINDER, f"7d:{date}"): 23,
        (REMINDER, f"1d:{date}"): 29,
        (OVERDUE, f"overdue:{date}"): 31,   # the day after the renewal date
        ("approval.expired", None): 33,     # renewal date + 2 grace days, passed
    }
    row.refresh_from_db()
    assert row.status == S.EXPIRED
    assert not decision.allow and decision.reasons == (Reason.ROW_EXPIRED,)
    assert Reminder.objects.for_org(org_a).count() == 5


def test_moves_and_expiry_are_audited_as_the_system(org_a, active_row):
    row = active_row(days=5)
    renewal_scan(org=org_a)
    with time_machine.travel(at(row.renewal_date + timedelta(days=1)), tick=False):
        result = renewal_scan(org=org_a)
    assert result.expired == 1
    actions = list(AuditEvent.objects.for_org(org_a).filter(object_id=str(row.public_id))
                   .filter(action__in=["approval.renewal_due", "approval.expired"])
                   .order_by("seq").values_list("action", "actor"))
    assert actions == [("approval.renewal_due", None), ("approval.expired", None)]


def test_default_grace_expires_the_day_after_the_renewal_date_without_an_overdue_notice(
        org_a, active_row):
    row = active_row(days=3)
    with time_machine.travel(at(row.renewal_date), tick=False):
        renewal_scan(org=org_a)
    assert PolicyRow.objects.get(pk=row.pk).status == S.RENEWAL_DUE
    with time_machine.travel(at(row.renewal_date + timedelta(days=1)), tick=False):
        renewal_scan(org=org_a)
    assert PolicyRow.objects.get(pk=row.pk).status == S.EXPIRED
    kinds = [kind for kind, _ in renewal_events(org_a)]
    assert OVERDUE not in kinds and kinds.count("approval.expired") == 1


def test_a_row_first_seen_inside_a_mark_gets_only_the_nearest_reminder(org_a, active_row):
    active_row(days=5)
    renewal_scan(org=org_a)
    assert [p for k, p in renewal_events(org_a) if k == REMINDER] == [
        f"7d:{(timezone.localdate() + timedelta(days=5)).isoformat()}"]


def test_rows_outside_the_first_mark_are_left_alone(org_a, active_row):
    row = active_row(days=31)
    assert renewal_scan(org=org_a).rows == 0
    assert PolicyRow.objects.get(pk=row.pk).status == S.ACTIVE
    assert renewal_events(org_a) == []


def test_a_renewed_row_is_reminded_again_before_its_next_date(org_a, people, active_row):
    row = active_row(days=1)
    renewal_scan(org=org_a)
    row = PolicyRow.objects.get(pk=row.pk)
    attach_required_evidence(row, people)
    propose_renewal(org_a, row, people, days=60)
    for role in SignOff.Role.values:  # a renewal is re-signed by all three
        row = sign(org_a, PolicyRow.objects.get(pk=row.pk), people, role)
    with time_machine.travel(at(row.renewal_date - timedelta(days=1)), tick=False):
        renewal_scan(org=org_a)
    periods = [p for k, p in renewal_events(org_a) if k == REMINDER]
    assert periods == [f"1d:{(row.renewal_date - timedelta(days=59)).isoformat()}",
                       f"1d:{row.renewal_date.isoformat()}"]
    assert PolicyRow.objects.get(pk=row.pk).status == S.RENEWAL_DUE


def test_a_suspended_row_is_reminded_and_expires_but_is_never_marked_due(
        org_a, active_row):
    row = active_row(days=7, status=S.SUSPENDED, suspended_from=S.ACTIVE)
    renewal_scan(org=org_a)
    assert PolicyRow.objects.get(pk=row.pk).status == S.SUSPENDED
    assert [k for k, _ in renewal_events(org_a)] == [REMINDER]
    with time_machine.travel(at(row.renewal_date + timedelta(days=1)), tick=False):
        renewal_scan(org=org_a)
    assert PolicyRow.objects.get(pk=row.pk).status == S.EXPIRED


@pytest.mark.parametrize("status", [S.DRAFT, S.IN_REVIEW, S.REVOKED, S.EXPIRED,
                                    S.CHANGES_REQUESTED])
def test_rows_not_in_force_get_nothing(org_a, active_row, status):
    row = active_row(days=1, status=status)
    with time_machine.travel(at(row.renewal_date + timedelta(days=5)), tick=False):
        assert renewal_scan(org=org_a).rows == 0
    assert PolicyRow.objects.get(pk=row.pk).status == status
    assert renewal_events(org_a) == []


def test_org_settings_choose_the_marks_and_the_grace(org_a, active_row):
    grace(org_a, 5, reminder_days=[10, 3])
    row = active_row(days=12)
    marks = {}
    for day in range(0, 19):
        with time_machine.travel(at(timezone.localdate() + timedelta(days=day)), tick=False):
            renewal_scan(org=org_a)
            status = PolicyRow.objects.get(pk=row.pk).status
        marks[day] = status
    periods = [p.split(":")[0] for k, p in renewal_events(org_a) if k == REMINDER]
    assert periods == ["10d", "3d"]
    assert marks[1] == S.ACTIVE and marks[2] == S.RENEWAL_DUE   # the first mark: 10 days
    assert marks[17] == S.RENEWAL_DUE and marks[18] == S.EXPIRED  # 12 + 5 days, passed


def test_reminders_reach_the_rows_owners_requester_and_reviewers_by_email(
        org_a, people, active_row):
    active_row(days=14)
    renewal_scan(org=org_a)
    event_fan_out(org=org_a)
    told = set(Notification.objects.for_org(org_a).filter(event__kind=REMINDER,
                                                          wants_email=True)
               .values_list("user__email", flat=True))
    assert told == {"app-owner@acme.test", "owner@acme.test", "finance@acme.test",
                    "member@acme.test", "security@acme.test"}


def test_the_beat_task_scans_every_org_and_stays_inside_each(org_a, org_b, active_row):
    row = active_row(days=7)
    # Eager here: the fan-out runs each org's task inline.
    assert renewal_scan_task.delay().get() == 2
    assert renewal_scan_task.delay().get() == 2
    assert Reminder.objects.for_org(org_a).get().subject_id == str(row.public_id)
    assert not Reminder.objects.for_org(org_b).exists()
    assert NotificationEvent.objects.for_org(org_b).count() == 0
    assert JobRun.objects.filter(task="approvals.renewal_scan").count() == 2


def test_org_task_ignores_a_deleted_org():
    assert renewal_scan_for_org_task.delay(10**9).get() == {}


def test_run_due_jobs_runs_the_renewal_scan_once(org_a, active_row, capsys):
    active_row(days=1)
    call_command("run_due_jobs", only=["approvals.renewal_scan"])
    assert "approvals.renewal_scan: ok" in capsys.readouterr().out
    assert JobRun.objects.get().task == "approvals.renewal_scan"
    assert Reminder.objects.for_org(org_a).count() == 1


@pytest.mark.parametrize("task", [renewal_scan_task, renewal_scan_for_org_task])
def test_tasks_go_to_the_default_queue_ack_late_and_retry_a_few_times(task):
    route = task.app.amqp.router.route({}, task.name)
    assert route["queue"].name == "default"
    assert task.acks_late is True
    assert task.max_retries == 3


def test_beat_runs_the_scan_daily_at_a_fixed_utc_time_and_hourly(settings):
    entries = {name: e for name, e in settings.CELERY_BEAT_SCHEDULE.items()
               if e["task"] == "approvals.renewal_scan"}
    daily = entries["approvals.renewal_scan"]["schedule"]
    assert daily.hour == {5} and daily.minute == {0}
    assert entries["approvals.renewal_scan.hourly"]["schedule"] == 3600.0


def test_rows_past_renewal_wait_out_the_grace_period(org_a, active_row):
    row = active_row(days=2)
    after = row.renewal_date + timedelta(days=3)
    assert list(rows_past_renewal(org=org_a, today=after)) == [row]
    assert list(rows_past_renewal(org=org_a, today=after, grace_days=3)) == []
    assert list(rows_past_renewal(org=org_a, today=after, grace_days=2)) == [row]


def test_row_expire_refuses_a_row_inside_its_grace_period(org_a, active_row):
    from django.core.exceptions import ValidationError

    row = active_row(days=2)
    with pytest.raises(ValidationError, match="grace"):
        row_expire(org=org_a, row=row, today=row.renewal_date + timedelta(days=2),
                   grace_days=2)
    row = row_expire(org=org_a, row=row, today=row.renewal_date + timedelta(days=3),
                     grace_days=2)
    assert row.status == S.EXPIRED


def test_the_dashboard_lists_the_rows_a_person_owns_due_within_30_days(
        org_a, people, active_row, django_assert_num_queries):
    soon, overdue = active_row(days=30), active_row(days=3)
    PolicyRow.objects.filter(pk=overdue.pk).update(renewal_date=timezone.localdate()
                                                   - timedelta(days=1))
    active_row(days=31)
    active_row(days=5, status=S.EXPIRED)
    today = timezone.localdate()
    for person in ("app_owner", "finance", "requester", "owner"):
        with django_assert_num_queries(1):  # the rows with their relations
            rows = list(rows_renewing_soon(org=org_a, actor=people[person], today=today))
        assert rows == [overdue, soon], person
    assert list(rows_renewing_soon(org=org_a, actor=people["security"], today=today)) == []
    for days in (1, 2, 4):
        active_row(days=days)
    with django_assert_num_queries(1):  # the same one query at five rows
        assert len(list(rows_renewing_soon(org=org_a, actor=people["owner"], today=today))) == 5


def test_beat_entries_load_into_django_celery_beat_for_the_admin(settings):
    from django_celery_beat.models import PeriodicTask
    from django_celery_beat.schedulers import ModelEntry

    from governance.celery import app

    # What beat's DatabaseScheduler does with each entry when it starts.
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        ModelEntry.from_entry(name, app=app, **entry)
    daily = PeriodicTask.objects.get(name="approvals.renewal_scan")
    assert (daily.task, daily.crontab.hour, daily.crontab.minute) == (
        "approvals.renewal_scan", "5", "0")
    hourly = PeriodicTask.objects.get(name="approvals.renewal_scan.hourly")
    assert (hourly.interval.every, hourly.interval.period) == (3600, "seconds")


def test_the_renewal_due_move_is_in_app_only_as_its_first_reminder_emails(org_a, active_row):
    active_row(days=30)
    renewal_scan(org=org_a)
    event_fan_out(org=org_a)
    owners = Notification.objects.for_org(org_a).filter(user__email="app-owner@acme.test")
    assert set(owners.values_list("event__kind", "wants_email")) == {
        (REMINDER, True), ("approval.renewal_due", False)}


def test_an_active_row_found_overdue_in_its_grace_is_marked_due_and_told_once(
        org_a, active_row):
    grace(org_a, 3)
    row = active_row(days=2)
    with time_machine.travel(at(row.renewal_date + timedelta(days=2)), tick=False):
        renewal_scan(org=org_a)
        renewal_scan(org=org_a)
    assert PolicyRow.objects.get(pk=row.pk).status == S.RENEWAL_DUE
    assert renewal_events(org_a) == [(OVERDUE, f"overdue:{row.renewal_date}"),
                                     ("approval.renewal_due", None)]
