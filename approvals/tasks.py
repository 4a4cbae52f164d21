"""Celery tasks of the approvals app. Beat's schedule is settings.CELERY_BEAT_SCHEDULE.

build_evidence_pack runs on request (approvals/packs/build.py pack_request);
reconcile_usage_import after each usage import (approvals/reconcile.py).

Each beat task fans out one task per org; each org's task calls one scan, which is safe to
run twice and concurrently (each effect once per row, kind and period): the renewal scan
(approvals.jobs), the evidence expiry scan (approvals.evidence_expiry) and the weekly
digest (approvals.digest, whose emails are sent one task each).
"""

import logging
import os
import time

from celery import shared_task

from approvals.digest import digest_send, weekly_digest
from approvals.evidence_expiry import evidence_expiry_scan
from approvals.exchange_findings import unverified_exchange_findings_raise
from approvals.jobs import renewal_scan
from approvals.packs.build import pack_build
from approvals.reconcile import reconcile_import
from approvals.services.smoke import smoke_run_execute
from evidence.models import UsageImport
from orgs.jobs import recorded
from orgs.models import Organization
from orgs.task_helpers import RETRY, for_each_org
from projects.models import WorkloadIdentity

logger = logging.getLogger(__name__)

# Test-only: milliseconds the scan sleeps after each row (and reconciliation before it
# commits), so that a test can SIGKILL a worker mid-batch (tests/approvals/
# test_renewal_worker.py, test_reconcile_worker.py). Unset (0) everywhere else.
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


@shared_task(name="approvals.build_evidence_pack", **RETRY)
def build_evidence_pack_task(org_id: int, pack_id: int) -> str | None:
    """Build evidence pack pack_id of org org_id (approvals.packs.build.pack_build).
    Returns the pack's status, or None when the org is gone or another delivery already
    claimed the pack (the claim makes a second delivery a no-op)."""
    org = Organization.objects.filter(pk=org_id).first()
    if org is None:
        return None
    pack = pack_build(org=org, pack_id=pack_id)
    return pack.status if pack is not None else None


@shared_task(name="approvals.reconcile_usage_import", **RETRY)
def reconcile_usage_import_task(org_id: int, job_id: int) -> dict:
    """Reconcile one committed usage or billing import (approvals.reconcile): spend
    counters, findings, threshold alerts. Sent by the usage_imported receiver; safe to run
    twice (the second run finds the import reconciled). {} when the org or job is gone."""
    org = Organization.objects.filter(pk=org_id).first()
    job = UsageImport.objects.for_org(org).filter(pk=job_id).first() if org else None
    if job is None:
        return {}
    outcome = reconcile_import(org=org, job=job, pause=_delay_hook())
    return {"skipped": True} if outcome.skipped else outcome.as_dict()


@shared_task(name="approvals.evidence_expiry_scan", ignore_result=True, **RETRY)
@recorded("approvals.evidence_expiry_scan")
def evidence_expiry_scan_task() -> int:
    """Beat fan-out (daily): one evidence_expiry_scan_for_org per org. Returns how many."""
    return for_each_org(evidence_expiry_scan_for_org_task)


@shared_task(name="approvals.evidence_expiry_scan_for_org", **RETRY)
def evidence_expiry_scan_for_org_task(org_id: int) -> dict:
    """Run one org's evidence expiry scan (approvals.evidence_expiry): the expired notice
    and finding per (row, item), the 14- and 1-day reminders. Returns its counts; {} when
    the org is gone."""
    org = Organization.objects.filter(pk=org_id).first()
    if org is None:
        return {}
    result = evidence_expiry_scan(org=org).as_dict()
    if any(v for k, v in result.items() if k != "rows"):
        logger.info("Evidence expiry scan of org %s: %s", org.slug, result)
    return result


@shared_task(name="approvals.weekly_digest", ignore_result=True, **RETRY)
@recorded("approvals.weekly_digest")
def weekly_digest_task() -> int:
    """Beat fan-out (Mondays): one weekly_digest_for_org per org. Returns how many."""
    return for_each_org(weekly_digest_for_org_task)


@shared_task(name="approvals.weekly_digest_for_org", **RETRY)
def weekly_digest_for_org_task(org_id: int) -> dict:
    """Record this ISO week's digest of each member of one org who has something to read
    (approvals.digest.weekly_digest); each is then sent by digest_send_task. Returns the
    counts; {} when the org is gone."""
    org = Organization.objects.filter(pk=org_id).first()
    if org is None:
        return {}
    return weekly_digest(org=org, send=digest_send_task.delay).as_dict()


@shared_task(name="approvals.digest_send", **RETRY)
def digest_send_task(org_id: int, digest_id: int) -> bool:
    """Send one recorded digest email, once (claimed before sending, released if the
    mail server fails, so the retry sends it)."""
    org = Organization.objects.filter(pk=org_id).first()
    if org is None:
        return False
    return digest_send(org=org, digest_id=digest_id)


@shared_task(name="approvals.unverified_exchange_scan", ignore_result=True, **RETRY)
@recorded("approvals.unverified_exchange_scan")
def unverified_exchange_scan_task() -> int:
    """Beat (every 5 minutes): one forged_exchange finding per org and window for token
    exchanges refused before their signature verified (approvals/exchange_findings.py).
    Only orgs with a workload identity can have any; their counts are read from the
    cache in one round trip per window, so this stays one task. Safe to run twice (the
    finding's key carries the window). Returns how many findings were new."""
    org_ids = sorted(set(WorkloadIdentity.objects.all_orgs().values_list("org_id", flat=True)))
    return unverified_exchange_findings_raise(org_ids=org_ids)
