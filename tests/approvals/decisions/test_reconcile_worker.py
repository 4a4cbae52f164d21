"""Reconciliation of a usage import on real Celery workers over the broker: the task sent
twice to two workers, and a worker killed with SIGKILL before its transaction commits,
each count the spend once and raise each threshold alert once; afterwards the decision
service denies the row whose cutoff blocks at 100 %.

The workers come from test_renewal_worker.worker (short Redis visibility timeout, the
test-only delay hook, which reconciliation runs just before it commits)."""

import os
import signal
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from approvals.decisions.models import SpendCounter
from approvals.decisions.service import Query, decide
from approvals.models import Finding, PolicyRow, UsageReconciliation
from approvals.tasks import reconcile_usage_import_task
from orgs.events import NotificationEvent
from orgs.reminders import Reminder
from tests.approvals.test_renewal_worker import broker_tasks, worker  # noqa: F401
from tests.approvals.usage import make_import, make_record
from tests.components import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
THRESHOLDS = ["100%", "50%", "80%"]


@pytest.fixture
def overspend(org_a, key, live_row):
    """A live row (500 USD a month, cutoff: block) and an import that spends 510 USD of
    it this month through the row's key."""
    row = live_row(daily_cap=None, cutoff_behaviour=PolicyRow.Cutoff.BLOCK)
    key, secret = key
    now = timezone.now()
    job = make_import(org_a)
    for cost in ("300", "210"):
        make_record(job, cost=cost, at=datetime(now.year, now.month, 1, 9, tzinfo=UTC),
                    api_key=key, project=key.project, environment=key.environment,
                    caller=key.caller)
    return row, job, secret, f"{now:%Y-%m}"


def open_transactions() -> int:
    """Other sessions of this database inside a transaction that is waiting (the worker,
    paused by the hook before its commit)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                       "current_database() AND pid <> pg_backend_pid() AND state = "
                       "'idle in transaction'")
        return cursor.fetchone()[0]


def reconciled(*workers) -> int:
    return sum(1 for w in workers for line in w.log().splitlines()
               if "approvals.reconcile_usage_import[" in line and "succeeded" in line)


def assert_counted_once(org, row, job, secret, month):
    assert UsageReconciliation.objects.filter(import_job=job).count() == 1
    assert SpendCounter.objects.get(row=row, period_key=month).amount == Decimal("510")
    periods = sorted(Reminder.objects.for_org(org).filter(kind="usage.threshold_crossed")
                     .values_list("period", flat=True))
    assert periods == [f"{t}:{month}" for t in THRESHOLDS]
    assert NotificationEvent.objects.for_org(org).filter(
        kind="usage.threshold_crossed").count() == 3
    assert Finding.objects.for_org(org).filter(kind=Finding.Kind.SPEND_THRESHOLD).count() == 3
    _, [decision] = decide(secret, [Query(model="gpt-chat", action="chat",
                                          data_class="internal", environment="production")])
    assert not decision.allow and "over_monthly_budget" in decision.reasons


def test_the_same_import_sent_twice_to_two_workers_counts_once(
        org_a, overspend, broker_tasks, tmp_path):  # noqa: F811
    row, job, secret, month = overspend
    with worker(tmp_path, "first", 1500) as first, worker(tmp_path, "second", 1500) as second:
        for _ in range(2):
            reconcile_usage_import_task.apply_async(args=[org_a.pk, job.pk])
        wait_for(lambda: reconciled(first, second) == 2, timeout=60,
                 message="the two deliveries did not both finish")
        assert reconciled(first) == 1 and reconciled(second) == 1  # they overlapped
    assert_counted_once(org_a, row, job, secret, month)


def test_a_worker_killed_before_commit_is_replaced_and_counts_once(
        org_a, overspend, broker_tasks, tmp_path):  # noqa: F811
    row, job, secret, month = overspend
    with worker(tmp_path, "doomed", 20_000) as doomed:
        reconcile_usage_import_task.apply_async(args=[org_a.pk, job.pk])
        wait_for(lambda: open_transactions() > 0, timeout=30,
                 message="the worker did not get to its open transaction")
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.process.wait(timeout=10)
    assert not UsageReconciliation.objects.filter(import_job=job).exists()
    assert not SpendCounter.objects.filter(row=row).exists()  # rolled back with the worker
    with worker(tmp_path, "replacement", 0) as replacement:
        wait_for(lambda: reconciled(replacement) == 1, timeout=150,
                 message="the task was not delivered again after the kill")
    assert_counted_once(org_a, row, job, secret, month)
