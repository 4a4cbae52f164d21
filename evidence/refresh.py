"""The scheduled catalog refresh (issue #8): an org's catalog URL, fetched and imported daily
as the system through the ordinary ImportJob path (evidence/catalog.py), so the import's
diff raises the catalog-change findings like any other import (approvals/catalog_triggers.py).

Outcomes of a run: a new snapshot (imported); the same file as an earlier snapshot (same
SHA-256, refused as a duplicate): a quiet no-op, the job marked unchanged; anything else
(HTTP error, unreachable, a bad file): failed, recorded on the job and on the refresh, and
the org's admins told once per run of failures (the next run that works re-arms it).
"""

from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from evidence.catalog import import_job_create, import_job_run, url_error
from evidence.importers import Format
from evidence.models import CatalogRefresh, ImportJob
from orgs.audit import diff, record_event
from orgs.events import NotificationEvent, event_emit

FIELDS = ("url", "format", "source_name")
# A run claims the refresh for this long: a second beat tick or a redelivered task within
# it does nothing (a real run takes seconds; a worker that died frees it after this).
CLAIM_FOR = timedelta(hours=1)


def catalog_refresh_get(*, org) -> CatalogRefresh:
    """The org's refresh settings: the saved row, or an unsaved one (no refresh). One
    query, with the last job."""
    return (CatalogRefresh.objects.for_org(org).select_related("last_job").first()
            or CatalogRefresh(org=org))


def _check(fields: dict) -> dict:
    errors = {}
    url = fields["url"]
    if url:
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            errors["url"] = "Give a full http:// or https:// URL."
        else:
            if reason := url_error(url):
                errors["url"] = reason
        if len(url) > 500:
            errors["url"] = "At most 500 characters."
    if fields["format"] not in dict(Format.CHOICES):
        errors["format"] = "Choose litellm, modelsdev or generic."
    if len(fields["source_name"]) > 100:
        errors["source_name"] = "At most 100 characters."
    return errors


@transaction.atomic
def catalog_refresh_update(*, org, actor, **fields) -> CatalogRefresh:
    """Org admins and owners (catalog:write) set the URL, format and source name of the
    daily catalog refresh; an empty URL turns it off. Field-level errors, nothing saved.
    Audits and emits catalog.refresh_updated; a change that changes nothing writes
    nothing."""
    if actor.org_id != org.pk or not actor.has_scope("catalog:write"):
        raise PermissionDenied("Only admins and owners configure the catalog refresh.")
    if unknown := set(fields) - set(FIELDS):
        raise ValidationError({name: "This setting does not exist." for name in unknown})
    current = catalog_refresh_get(org=org)
    if current.pk is not None:
        current = CatalogRefresh.objects.for_org(org).select_for_update().get(pk=current.pk)
    before = {name: getattr(current, name) for name in FIELDS}
    after = {**before, **{k: (v or "").strip() for k, v in fields.items()}}
    if errors := _check(after):
        raise ValidationError(errors)
    changes = diff(before, after)
    if not changes and current.pk is not None:
        return current
    for name, value in after.items():
        setattr(current, name, value)
    current.updated_by, current.updated_at = actor, timezone.now()
    current.save()
    record_event(org=org, actor=actor, action="catalog.refresh_updated", obj=current,
                 changes=changes)
    event_emit(org=org, kind="catalog.refresh_updated", subject=current,
               payload={name: new for name, (_old, new) in changes.items()})
    return current


def _claim(org, now) -> bool:
    free = Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_FOR)
    return CatalogRefresh.objects.for_org(org).exclude(url="").filter(free).update(
        claimed_at=now) == 1


def catalog_refresh_run(*, org, now=None) -> dict:
    """One scheduled refresh of org (the evidence.catalog_refresh_for_org task; actor: the
    system). Claims the refresh (nothing when unset or claimed within CLAIM_FOR), creates
    an ImportJob of its URL and runs it here (fetch, validate, import all-or-nothing), then
    records the outcome (see the module docstring). Returns {"outcome": ..., "job": id}."""
    now = now or timezone.now()
    if not _claim(org, now):
        return {"outcome": "skipped"}
    refresh = CatalogRefresh.objects.for_org(org).get()
    job = import_job_create(org=org, actor=None, format=refresh.format, url=refresh.url,
                            source_name=refresh.source_name, queue=False)
    job = import_job_run(org=org, job_id=job.pk) or job
    if job.status == ImportJob.Status.FAILED and job.report.get("duplicate_of"):
        # The same file as before: nothing to do, and nothing anyone must hear about.
        ImportJob.objects.for_org(org).filter(pk=job.pk).update(
            status=ImportJob.Status.UNCHANGED, phase="unchanged")
        job.status = ImportJob.Status.UNCHANGED
    outcome = {ImportJob.Status.SUCCEEDED: CatalogRefresh.Outcome.IMPORTED,
               ImportJob.Status.UNCHANGED: CatalogRefresh.Outcome.UNCHANGED,
               }.get(job.status, CatalogRefresh.Outcome.FAILED)
    _record(org=org, refresh=refresh, job=job, outcome=outcome, now=now)
    return {"outcome": str(outcome), "job": str(job.public_id)}


@transaction.atomic
def _record(*, org, refresh, job, outcome, now):
    """The run's outcome on the refresh, under its row lock; on a failure the admins are
    told (catalog.refresh_failed, audited) unless they were since the last good run."""
    refresh = CatalogRefresh.objects.for_org(org).select_for_update().get(pk=refresh.pk)
    refresh.last_run_at, refresh.last_outcome, refresh.last_job = now, outcome, job
    refresh.claimed_at = None
    failed = outcome == CatalogRefresh.Outcome.FAILED
    refresh.last_error = (job.report.get("error") or "Failed.")[:500] if failed else ""
    notify = failed and refresh.failure_notified_at is None
    if failed and notify:
        refresh.failure_notified_at = now
    elif not failed:
        refresh.failure_notified_at = None
    refresh.save()
    if notify:
        record_event(org=org, actor=None, action="catalog.refresh_failed", obj=refresh,
                     changes={"url": [None, refresh.url], "error": [None, refresh.last_error]})
        event_emit(org=org, kind="catalog.refresh_failed", subject=refresh,
                   severity=NotificationEvent.Severity.WARNING,
                   payload={"url": refresh.url, "error": refresh.last_error,
                            "job": str(job.public_id),
                            "what_to_do": "Check the URL in Catalog > Refresh; you are told "
                                          "again only after a run has worked."})
