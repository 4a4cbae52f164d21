"""Celery tasks of the evidence app: the catalog import behind the browser and the API,
and the daily catalog refresh (beat: settings.CELERY_BEAT_SCHEDULE).

A task takes ids (always with org_id), reloads through for_org, and calls one service.
It is safe to run twice: import_job_run claims the job with a conditional update.
"""

from celery import shared_task
from django.db import OperationalError

from evidence.catalog import import_job_run
from evidence.models import CatalogRefresh
from evidence.refresh import catalog_refresh_run
from orgs.jobs import recorded
from orgs.models import Organization

RETRY = {
    "acks_late": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
    "retry_backoff_max": 300,
    "max_retries": 3,
}


@shared_task(name="evidence.run_catalog_import", **RETRY)
def run_catalog_import_task(org_id: int, job_id: int) -> str | None:
    """Run import job job_id of org org_id (import_job_run). Returns the job's status,
    or None when the org or the job is gone or another delivery already claimed it."""
    org = Organization.objects.filter(pk=org_id).first()
    if org is None:
        return None
    job = import_job_run(org=org, job_id=job_id)
    return job.status if job is not None else None


@shared_task(name="evidence.catalog_refresh", ignore_result=True, **RETRY)
@recorded("evidence.catalog_refresh")
def catalog_refresh_task() -> int:
    """Beat fan-out (daily): one catalog_refresh_for_org per org with a refresh URL.
    Returns how many org tasks it sent."""
    org_ids = list(CatalogRefresh.objects.all_orgs().exclude(url="").order_by("org_id")
                   .values_list("org_id", flat=True))
    for org_id in org_ids:
        catalog_refresh_for_org_task.delay(org_id)
    return len(org_ids)


@shared_task(name="evidence.catalog_refresh_for_org", **RETRY)
@recorded("evidence.catalog_refresh_for_org")
def catalog_refresh_for_org_task(org_id: int) -> dict:
    """Fetch and import one org's catalog refresh URL as the system (catalog_refresh_run).
    Returns {"org", "outcome": imported | unchanged | failed | skipped, "job"}; {} when the
    org is gone. A failure is an outcome (recorded, admins told once), not an error."""
    org = Organization.objects.filter(pk=org_id).first()
    if org is None:
        return {}
    return {"org": org.slug, **catalog_refresh_run(org=org)}
