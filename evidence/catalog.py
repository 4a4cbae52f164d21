"""Catalog writes: importing a snapshot (all-or-nothing), and the import jobs that the
browser and the API queue for a Celery worker.

Who may call: anyone holding `catalog:write` (org admins and owners); views and the API
check the scope, the management command runs as the system. Snapshots are never changed
after import (see evidence.models), so there is no update or delete service.
"""

import hashlib
from collections import Counter
from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from evidence import importers
from evidence.importers import CatalogFileError, Format
from evidence.models import CatalogEntry, CatalogSnapshot, ImportJob
from evidence.signals import catalog_imported
from orgs import outbound
from orgs.audit import record_event
from orgs.events import event_emit

BATCH_SIZE = 2000  # rows per INSERT: a few statements for the largest catalog
MAX_BYTES = 64 * 1024 * 1024  # refuse catalogs above 64 MB (the largest real one is 3 MB)
URL_TIMEOUT = 60  # seconds for the whole download, redirects included
URL_REDIRECTS = 5  # e.g. a GitHub raw URL; every hop is checked again (orgs/outbound.py)
STALE_AFTER = timedelta(minutes=15)  # a running job older than this lost its worker


def _no_progress(phase: str, done: int, total: int) -> None:
    return None


def _duplicate_error(snapshot: CatalogSnapshot) -> CatalogFileError:
    who = f" by {snapshot.imported_by_label}" if snapshot.imported_by_label else ""
    error = CatalogFileError([("", (
        f"This file was already imported as the snapshot '{snapshot}' on "
        f"{snapshot.imported_at:%Y-%m-%d %H:%M} UTC{who} (same SHA-256); nothing new was "
        "imported."))])
    error.duplicate_of = snapshot
    return error


def _existing(org, sha256: str) -> CatalogSnapshot | None:
    return CatalogSnapshot.objects.for_org(org).filter(sha256=sha256).first()


def catalog_import(*, org, actor, data: bytes, format: str, source_ref: str,
                   source_name: str = "", snapshot_date: date | None = None,
                   progress=_no_progress) -> CatalogSnapshot:
    """Import one catalog file as a new snapshot of org, or write nothing.

    The whole file is parsed and validated first; any bad entry raises CatalogFileError
    with every bad entry and why. A file already imported into org (same SHA-256) is
    refused, naming the earlier snapshot. Then one transaction inserts the snapshot, its
    entries in batches, one `catalog.imported` audit event and a `catalog.imported`
    notification event. actor is a Membership, or None for the system.
    progress(phase, done, total) is called between steps (outside the transaction).
    """
    sha256 = hashlib.sha256(data).hexdigest()
    if earlier := _existing(org, sha256):
        raise _duplicate_error(earlier)
    snapshot_date = (snapshot_date or importers.snapshot_date_from_name(source_ref)
                     or timezone.now().date())
    progress("validating", 0, 0)
    result = importers.parse(data, format=format, snapshot_date=snapshot_date,
                             file_name=source_ref)
    progress("writing", 0, len(result.entries))
    try:
        snapshot = _write(org=org, actor=actor, result=result, sha256=sha256, format=format,
                          source_ref=source_ref, snapshot_date=snapshot_date,
                          source_name=source_name or Format.SOURCE_NAMES.get(format, format))
    except IntegrityError:
        # Another import of the same file committed between our check and our insert.
        if earlier := _existing(org, sha256):
            raise _duplicate_error(earlier) from None
        raise
    progress("done", len(result.entries), len(result.entries))
    return snapshot


@transaction.atomic
def _write(*, org, actor, result, sha256, format, source_ref, snapshot_date, source_name):
    user = getattr(actor, "user", None)
    counts = {"family": Counter(e.family for e in result.entries),
              "platform": Counter(e.platform for e in result.entries)}
    snapshot = CatalogSnapshot.objects.create(
        org=org, source_name=source_name[:100], format=format, source_ref=source_ref[:500],
        sha256=sha256, snapshot_date=snapshot_date, imported_by=user,
        imported_by_label=getattr(user, "email", "") or "", entry_count=len(result.entries),
        skipped=dict(result.skipped), counts={k: dict(v) for k, v in counts.items()},
    )
    rows = (_row(org, snapshot, e) for e in result.entries)
    CatalogEntry.objects.bulk_create(rows, batch_size=BATCH_SIZE)
    record_event(org=org, actor=actor, action="catalog.imported", obj=snapshot, changes={
        "source_name": [None, snapshot.source_name], "source_ref": [None, snapshot.source_ref],
        "sha256": [None, sha256], "entry_count": [None, snapshot.entry_count],
        "skipped": [None, snapshot.skipped_count],
        "snapshot_date": [None, snapshot_date.isoformat()]})
    event_emit(org=org, kind="catalog.imported", subject=snapshot, payload={
        "source_name": snapshot.source_name, "snapshot_date": snapshot_date.isoformat(),
        "entry_count": snapshot.entry_count})
    catalog_imported.send(sender=CatalogSnapshot, org=org, snapshot=snapshot, actor=actor)
    return snapshot


def _row(org, snapshot, e) -> CatalogEntry:
    return CatalogEntry(
        org=org, snapshot=snapshot, key=e.key, platform=e.platform, vendor=e.vendor,
        model_id=e.model_id, region=e.region, family=e.families[0],
        families="|" + "|".join(e.families) + "|", mode=e.mode, input_price=e.input_price,
        output_price=e.output_price, unit_price=e.unit_price, price_unit=e.price_unit,
        context_window=e.context_window, max_output_tokens=e.max_output_tokens,
        deprecation_date=e.deprecation_date, availability=e.availability, extra=e.extra,
    )


def url_error(url: str) -> str | None:
    """Why the server would refuse to fetch url (fetch_url's rule: http(s), a host that
    resolves to public addresses only, orgs/outbound.py), or None. Checked where a URL is
    saved for later too (the scheduled refresh), so it fails on the form."""
    if not url.lower().startswith(("http://", "https://")):
        return "Only http:// and https:// URLs can be imported."
    try:
        outbound.check(url)
    except outbound.OutboundRefused as exc:
        return str(exc)
    return None


def fetch_url(url: str) -> bytes:
    """The body of an http(s) URL, at most MAX_BYTES; CatalogFileError with a clear reason
    when it cannot be had. Only org admins (and the refresh they scheduled) make the server
    fetch a URL; it goes through orgs/outbound.py, so every redirect hop is checked."""
    if reason := url_error(url):
        raise CatalogFileError([("", reason)])
    try:
        response = outbound.fetch("GET", url, timeout=URL_TIMEOUT, max_bytes=MAX_BYTES,
                                  max_redirects=URL_REDIRECTS)
    except outbound.OutboundError as exc:
        raise CatalogFileError([("", f"{url} could not be fetched: {exc} Nothing was "
                                     "imported.")]) from None
    if response.status != 200:
        raise CatalogFileError([("", f"{url} answered HTTP {response.status}; nothing was "
                                     "imported.")])
    return response.content


@transaction.atomic
def import_job_create(*, org, actor, format: str, source_name: str = "", upload=None,
                      url: str = "", snapshot_date: date | None = None,
                      queue: bool = True) -> ImportJob:
    """Queue an import of an uploaded file or a URL (exactly one). The Celery task
    evidence.run_catalog_import runs it after commit (queue=False: the caller runs it
    itself with import_job_run, as the scheduled refresh does). actor None: the system.
    Audits catalog.import_queued."""
    if bool(upload) == bool(url):
        raise ValidationError({"file": "Upload a file or give a URL (one of the two)."})
    if format not in dict(Format.CHOICES):
        raise ValidationError({"format": "Choose litellm, modelsdev or generic."})
    if upload is not None and upload.size > MAX_BYTES:
        raise ValidationError({"file": f"The file is larger than {MAX_BYTES // 2**20} MB."})
    if upload is not None and not upload.size:
        raise ValidationError({"file": "The file is empty."})
    source_ref = url or upload.name
    job = ImportJob.objects.create(
        org=org, format=format, source_ref=source_ref[:500], url=url,
        source_name=(source_name or Format.SOURCE_NAMES.get(format, format))[:100],
        payload=upload.read() if upload is not None else None, snapshot_date=snapshot_date,
        created_by=actor, phase="queued")
    record_event(org=org, actor=actor, action="catalog.import_queued", obj=job,
                 changes={"source_ref": [None, source_ref], "format": [None, format]})
    from evidence.tasks import run_catalog_import_task  # tasks import this module

    if queue:
        transaction.on_commit(lambda: run_catalog_import_task.delay(org.pk, job.pk))
    return job


def import_job_run(*, org, job_id: int) -> ImportJob | None:
    """Run one queued import job (the Celery task's body). Claims the job with a
    conditional update, so a second delivery of the same task does nothing and returns
    None (a job running elsewhere is left alone for STALE_AFTER). Progress and the final
    report are written to the job as it goes; the snapshot itself is written
    all-or-nothing by catalog_import, which audits it."""
    jobs = ImportJob.objects.for_org(org).filter(pk=job_id)
    # A queued job, or one whose worker died mid-run (acks_late delivers the task again):
    # rerunning is safe, the import is all-or-nothing and a finished one is refused.
    stale = timezone.now() - STALE_AFTER
    claimable = Q(status=ImportJob.Status.QUEUED) | Q(status=ImportJob.Status.RUNNING,
                                                      started_at__lt=stale)
    claimed = jobs.filter(claimable).update(
        status=ImportJob.Status.RUNNING, started_at=timezone.now(), phase="starting")
    if claimed != 1:
        return None
    job = jobs.select_related("created_by__user").get()

    def progress(phase: str, done: int, total: int):
        jobs.update(phase=phase, progress=done, total=total)

    try:
        if job.url:
            progress("downloading", 0, 0)
        data = fetch_url(job.url) if job.url else bytes(job.payload or b"")
        snapshot = catalog_import(
            org=org, actor=job.created_by, data=data, format=job.format,
            source_ref=job.source_ref, source_name=job.source_name,
            snapshot_date=job.snapshot_date, progress=progress)
    except CatalogFileError as exc:
        report = exc.as_report()
        duplicate = getattr(exc, "duplicate_of", None)
        if duplicate is not None:
            report["duplicate_of"] = str(duplicate.public_id)
        jobs.update(status=ImportJob.Status.FAILED, finished_at=timezone.now(), payload=None,
                    phase="failed", report=report)
    else:
        jobs.update(status=ImportJob.Status.SUCCEEDED, finished_at=timezone.now(),
                    payload=None, phase="done", snapshot=snapshot,
                    report={"entry_count": snapshot.entry_count, "skipped": snapshot.skipped,
                            "counts": snapshot.counts})
    return jobs.get()
