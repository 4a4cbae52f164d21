"""Celery tasks of the approvals app. Beat's schedule is settings.CELERY_BEAT_SCHEDULE.

The beat task fans out one task per org; each org's task calls approvals.jobs.renewal_scan,
which is safe to run twice and concurrently (each effect once per row, kind and period).
"""

import logging
import os
import time

from celery import shared_task

from approvals.jobs import renewal_scan
from approvals.services.smoke import smoke_run_execute
from orgs.jobs import recorded
from orgs.models import Organization
from orgs.task_helpers import RETRY, for_each_org

logger = logging.getLogger(__name__)

# Test-only: milliseconds the scan sleeps after each row, so that a test can SIGKILL a
# worker mid-batch (tests/approvals/test_renewal_jobs.py). Unset (0) everywhere else.
SCAN_DELAY_ENV = "GOVERNANCE_TEST_RENEWAL_SCAN_DELAY_MS"


def _delay_hook():
    raw = os.environ.get(SCAN_DELAY_ENV, "").strip()
    if not raw:
        return None
    seconds = int(raw) / 1000  # a bad value fails loudly: it is only ever set by tests
    return lambda _pk: time.sleep(seconds)


@shared_task(name="approvals.renewal_scan", ignore_result=True, **RETRY)
@recorded("approvals.renewal_scan")
def renewal_scan_task() -> int:
    """Beat fan-out (daily, and hourly to catch up): one renewal_scan_for_org per org.
    Returns how many org tasks it sent."""
    return for_each_org(renewal_scan_for_org_task)


@shared_task(name="approvals.renewal_scan_for_org", **RETRY)
def renewal_scan_for_org_task(org_id: int) -> dict:
    """Run one org's renewal scan (approvals.jobs.renewal_scan): reminders, renewal due,
    overdue notice, expiry after grace. Returns its counts; {} when the org is gone."""
    org = Organization.objects.filter(pk=org_id).first()
    if org is None:
        return {}
    result = renewal_scan(org=org, after_row=_delay_hook()).as_dict()
    if any(v for k, v in result.items() if k != "rows"):
        logger.info("Renewal scan of org %s: %s", org.slug, result)
    return result


@shared_task(name="approvals.smoke_run", **RETRY)
def smoke_run_task(org_id: int, run_id: int) -> str | None:
    """Run smoke run run_id of org org_id (services.smoke.smoke_run_execute): one
    synthetic request per planned step, each recorded as evidence. Returns the run's
    status, or None when the org is gone, the run is finished or a live worker holds it."""
    org = Organization.objects.filter(pk=org_id).first()
    if org is None:
        return None
    run = smoke_run_execute(org=org, run_id=run_id)
    return run.status if run is not None else None
