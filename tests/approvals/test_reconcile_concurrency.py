"""Two workers reconciling at once, on PostgreSQL with real transactions (threads, one
connection each): spend is counted once and each threshold alert fires once."""

import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection

from approvals.decisions.models import SpendCounter
from approvals.models import Finding, PolicyRow
from approvals.reconcile import reconcile_import
from orgs.reminders import Reminder
from tests.approvals.usage import make_import, make_record
from tests.projects.conftest import make_key

pytestmark = pytest.mark.django_db(transaction=True)
AT = datetime(2026, 12, 3, 10, tzinfo=UTC)


def at_once(*calls):
    """Run each call in its own thread, released together; re-raise the first error."""
    barrier, errors = threading.Barrier(len(calls)), []

    def run(call):
        try:
            barrier.wait(timeout=10)
            call()
        except Exception as exc:  # noqa: BLE001  (reported to the test below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    if errors:
        raise errors[0]


@pytest.fixture
def setup(org_a, make_row, people, production, caller_a):
    # The suite runs on PostgreSQL (bin/test); fail rather than skip anywhere else.
    assert connection.vendor == "postgresql", "these tests need PostgreSQL's row locks"
    row = make_row(PolicyRow.Status.ACTIVE, daily_cap=None)
    key = make_key(org_a, people["owner"], production, caller_a)[0]
    return row, key


def spend_job(org, key, cost):
    job = make_import(org)
    make_record(job, cost=cost, at=AT, api_key=key, project=key.project,
                environment=key.environment, caller=key.caller)
    return job


def test_one_import_reconciled_by_two_workers_counts_once(org_a, setup):
    row, key = setup
    job = spend_job(org_a, key, "420")  # 84 %
    at_once(lambda: reconcile_import(org=org_a, job=job),
            lambda: reconcile_import(org=org_a, job=job))
    assert SpendCounter.objects.get(row=row, period_key="2026-12").amount == Decimal("420")
    assert Reminder.objects.filter(kind="usage.threshold_crossed").count() == 2  # 50, 80
    assert Finding.objects.filter(kind=Finding.Kind.SPEND_THRESHOLD).count() == 2


def test_two_imports_at_once_alert_each_threshold_once(org_a, setup):
    row, key = setup
    jobs = [spend_job(org_a, key, "260"), spend_job(org_a, key, "250")]  # 52 % + 50 %
    at_once(*[lambda j=j: reconcile_import(org=org_a, job=j) for j in jobs])
    assert SpendCounter.objects.get(row=row, period_key="2026-12").amount == Decimal("510")
    periods = sorted(Reminder.objects.filter(kind="usage.threshold_crossed")
                     .values_list("period", flat=True))
    assert periods == ["100%:2026-12", "50%:2026-12", "80%:2026-12"]
