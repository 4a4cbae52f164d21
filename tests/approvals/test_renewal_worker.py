"""The renewal scan on real Celery workers over the broker: two workers running it at once,
and a worker killed with SIGKILL mid-batch then replaced, each send every reminder once.

Emails are counted where they end up: the console email backend prints each one into the
worker's log, and each notification row records when it was emailed. The scan is slowed
with the test-only delay hook (approvals.tasks.SCAN_DELAY_ENV) so that the runs overlap
and the kill lands mid-batch. The workers use a short Redis visibility timeout so that
the message of the killed worker is delivered again (acks_late) within seconds, not an hour.
"""

import contextlib
import os
import re
import signal
import subprocess
import sys
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from approvals.jobs import REMINDER
from approvals.models import PolicyRow
from approvals.tasks import SCAN_DELAY_ENV, renewal_scan_for_org_task
from governance.celery import app as celery_app
from orgs.notifications.models import Notification
from orgs.reminders import Reminder
from tests import components
from tests.components import WorkerProcess, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
S = PolicyRow.Status
ROWS = 8
RECIPIENTS = 5  # app owner, engineering/evidence owner, finance, requester; security
VISIBILITY_TIMEOUT = 4  # seconds before an unacknowledged message is delivered again

_MAIN = """
import os, sys
from governance.celery import app
options = {**(app.conf.broker_transport_options or {}),
           "visibility_timeout": float(os.environ["TEST_VISIBILITY_TIMEOUT"])}
if os.environ.get("GOVERNANCE_TEST_BROKER_PREFIX"):
    options["global_keyprefix"] = os.environ["GOVERNANCE_TEST_BROKER_PREFIX"]
app.conf.broker_transport_options = options
app.worker_main(["worker", *sys.argv[1:]])
"""


@contextlib.contextmanager
def worker(tmp_path, label: str, delay_ms: int):
    """A `celery worker` subprocess like tests.components' fixture, with the scan delay
    and the short visibility timeout; stopped (SIGTERM, then SIGKILL) on exit."""
    components._check_broker()
    name = f"{label}-{uuid.uuid4().hex[:8]}@governance-tests"
    env = {**os.environ, "DATABASE_URL": components._test_database_url(),
           "CELERY_TASK_ALWAYS_EAGER": "false", "PYTHONUNBUFFERED": "1",
           "EMAIL_URL": "console://", SCAN_DELAY_ENV: str(delay_ms),
           "MEDIA_ROOT": str(settings.MEDIA_ROOT),
           "TEST_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
           components.PREFIX_ENV: components.SESSION_PREFIX}
    log_path = tmp_path / f"{label}.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-c", _MAIN, "--pool=solo", "--loglevel=INFO", "-Q",
             settings.CELERY_TASK_DEFAULT_QUEUE, "-n", name, "--without-gossip",
             "--without-mingle", "--without-heartbeat"],
            cwd=settings.BASE_DIR, env=env, stdout=log_file, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL)
    handle = WorkerProcess(name=name, queue=settings.CELERY_TASK_DEFAULT_QUEUE,
                           process=process, log_path=log_path)
    try:
        wait_for(lambda: handle.answers_ping(timeout=0.3) or not handle.is_running(),
                 timeout=components.WORKER_START_TIMEOUT)
        assert handle.is_running(), handle.log()[-3000:]
        yield handle
    finally:
        handle.stop()
        print(f"--- {label} log ---\n{handle.log()[-6000:]}")


@pytest.fixture
def broker_tasks():
    """Send tasks to the broker (not eagerly) for the length of the test."""
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    yield
    celery_app.conf.task_always_eager = eager


@pytest.fixture
def due_rows(make_row):
    """ROWS active rows renewing in 1 to 14 days: each is due exactly one reminder now."""
    rows = []
    for i in range(ROWS):
        rows.append(make_row(S.ACTIVE, renewal_date=timezone.localdate()
                             + timedelta(days=1 + i % 14)))
    return rows


def emails_in(*workers) -> int:
    return sum(_subjects(w.log()).count(REMINDER) for w in workers)


def _subjects(log: str) -> list[str]:
    """The kind at the end of each email's Subject header (unfolded): "... (kind)"."""
    unfolded = re.sub(r"\n[ \t]+", " ", log)
    return re.findall(r"^Subject: .*\(([a-z_.]+)\)$", unfolded, flags=re.M)


def scans_done(*workers) -> int:
    return sum(1 for w in workers for line in w.log().splitlines()
               if "approvals.renewal_scan_for_org[" in line and "succeeded" in line)


def assert_each_reminder_once(org, *workers):
    assert Reminder.objects.for_org(org).filter(kind=REMINDER).count() == ROWS
    sent = Notification.objects.for_org(org).filter(event__kind=REMINDER)
    wait_for(lambda: sent.filter(emailed_at__isnull=False).count() == ROWS * RECIPIENTS,
             timeout=30, message="the reminder emails were not all sent")
    assert sent.count() == ROWS * RECIPIENTS
    wait_for(lambda: emails_in(*workers) == ROWS * RECIPIENTS, timeout=10,
             message=f"{emails_in(*workers)} reminder emails in the worker logs")
    renewal_due = PolicyRow.objects.for_org(org).filter(status=S.RENEWAL_DUE).count()
    assert renewal_due == ROWS


def test_two_workers_scanning_at_once_send_each_reminder_once(
        org_a, due_rows, broker_tasks, tmp_path):
    with worker(tmp_path, "first", 150) as first, worker(tmp_path, "second", 150) as second:
        for _ in range(2):
            renewal_scan_for_org_task.apply_async(args=[org_a.pk])
        wait_for(lambda: scans_done(first, second) == 2, timeout=60,
                 message="the two scans did not both finish")
        # Both workers ran a scan, at the same time (each takes over a second).
        assert scans_done(first) == 1 and scans_done(second) == 1
        assert_each_reminder_once(org_a, first, second)


def test_a_worker_killed_mid_batch_is_replaced_and_each_reminder_is_sent_once(
        org_a, due_rows, broker_tasks, tmp_path):
    with worker(tmp_path, "doomed", 1500) as doomed:
        renewal_scan_for_org_task.apply_async(args=[org_a.pk])
        reminded = Reminder.objects.for_org(org_a).filter(kind=REMINDER)
        wait_for(lambda: reminded.count() >= 2, timeout=30,
                 message="the scan did not start")
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.process.wait(timeout=10)
    partial = reminded.count()
    assert 2 <= partial < ROWS, "the kill should land mid-batch"
    # The replacement gets the unacknowledged message again (acks_late): nobody re-sends.
    with worker(tmp_path, "replacement", 0) as replacement:
        # Redis hands an unacknowledged message back once its visibility timeout has passed,
        # checked every few seconds by the consumer; on a loaded machine that takes a while.
        wait_for(lambda: scans_done(replacement) == 1, timeout=150,
                 message="the scan was not delivered again after the kill")
        assert_each_reminder_once(org_a, doomed, replacement)
