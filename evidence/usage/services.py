"""Usage and billing imports: a file through a queued job (browser or API upload, run by
the Celery task evidence.run_usage_import), or a batch pushed over the API.

All or nothing: every line is checked first; one bad line and the import fails with each
bad line (line, field, message) in its report, and nothing is written. Then one
transaction adds the lines that are new (idempotent by the source's id of each line),
the job's result, one audit event (usage.imported / billing.imported) and its
notification event. After commit, evidence.signals.usage_imported tells approvals/.

Who may call: members for whom evidence.usage.permissions.can_import_usage holds (org
admins, owners, finance owners); the task runs as the member who queued the job.
"""

import io
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import OperationalError, transaction
from django.db.models import Q
from django.utils import timezone

from evidence.model_ids import SEPARATOR, normalise
from evidence.models import CatalogEntry, CatalogSnapshot, UsageImport, UsageSource
from evidence.signals import usage_imported
from evidence.usage import parsers
from evidence.usage.attribution import Attribution, billing_project
from evidence.usage.bulk import stage_for
from evidence.usage.parsers import FileError, LineError
from evidence.usage.permissions import can_import_usage
from orgs.audit import record_event
from orgs.events import event_emit

MAX_UPLOAD_BYTES = 128 * 1024 * 1024  # a month of a busy gateway's spend logs as CSV
MAX_BATCH_LINES = 10_000  # lines per API push
MAX_REPORTED_ERRORS = 1_000  # a failed report lists this many bad lines, then counts
PROGRESS_EVERY = 50_000  # lines between progress updates
STALE_AFTER = timedelta(minutes=30)  # a running job older than this lost its worker
MILLION = Decimal(1_000_000)
SIX_PLACES = Decimal("0.000001")


class UsageFileError(Exception):
    """The input cannot be imported: report() is the failed job's report."""

    def __init__(self, errors: list[dict], *, error_count: int | None = None, lines: int = 0,
                 message: str = ""):
        super().__init__(message or f"{error_count or len(errors)} bad line(s)")
        self.errors, self.lines = errors, lines
        self.error_count = len(errors) if error_count is None else error_count
        self.message = message

    def report(self) -> dict:
        message = self.message or (
            f"{self.error_count} of {self.lines} lines are bad; nothing was imported. "
            "Fix them and import the whole file again.")
        return {"error": message, "errors": self.errors, "error_count": self.error_count,
                "lines": self.lines}


def _no_progress(phase: str, done: int, total: int) -> None:
    return None


class Pricer:
    """Prices lines whose source gave no cost from the org's newest catalog snapshot
    (one query per distinct model); unknown models cost 0 and are listed in the report."""

    def __init__(self, org):
        self.org = org
        self.snapshot = (CatalogSnapshot.objects.for_org(org)
                         .order_by("-snapshot_date", "-imported_at").first())
        self.prices, self.priced, self.unpriced = {}, 0, {}

    def _lookup(self, model: str, provider: str):
        if self.snapshot is None:
            return None
        model = normalise(model)  # catalog spelling may differ in case (model_ids.py)
        bare = model.split(SEPARATOR, 1)[1] if SEPARATOR in model else model
        entries = list(CatalogEntry.objects.for_org(self.org).filter(
            Q(model_id__iexact=model) | Q(model_id__iexact=bare),
            snapshot=self.snapshot).exclude(
            input_price__isnull=True, output_price__isnull=True).values_list(
            "platform", "input_price", "output_price")[:50])
        # The line's own platform first.
        entries.sort(key=lambda e: normalise(e[0]) != normalise(provider))
        return (entries[0][1] or Decimal(0), entries[0][2] or Decimal(0)) if entries else None

    def price(self, line) -> Decimal:
        key = (line.model, line.provider)
        if key not in self.prices:
            self.prices[key] = self._lookup(*key)
        found = self.prices[key]
        if found is None:
            self.unpriced[line.model] = self.unpriced.get(line.model, 0) + 1
            return Decimal(0)
        self.priced += 1
        cost = (line.input_tokens * found[0] + line.output_tokens * found[1]) / MILLION
        return cost.quantize(SIX_PLACES, rounding=ROUND_HALF_UP)

    def report(self) -> dict:
        if not self.priced and not self.unpriced:
            return {}
        out = {"priced_from_catalog": self.priced}
        if self.snapshot is not None:
            out["catalog_snapshot"] = str(self.snapshot)
        if self.unpriced:
            out["unpriced_models"] = dict(sorted(self.unpriced.items())[:50])
            out["note"] = ("The source gave no cost and the newest catalog snapshot has no "
                           f"price for {len(self.unpriced)} model(s): those lines cost 0.")
        return out


class _Rows:
    """Turns checked lines into table rows (attribution, pricing) for one job."""

    def __init__(self, *, org, job):
        self.org, self.job, self.now = org, job, timezone.now()
        self.attribution = Attribution(org)
        self.pricer = Pricer(org) if job.kind == UsageImport.Kind.USAGE else None

    def row(self, line) -> tuple:
        """The line's own columns (evidence.usage.bulk.USAGE_COLUMNS / BILLING_COLUMNS)."""
        if self.pricer is None:
            project = billing_project(self.attribution, line.project_ref)
            return (line.source_id, line.period_start, line.period_end, line.provider,
                    line.model, line.project_ref, project, line.description, line.amount_usd)
        key, project, environment, caller = self.attribution.resolve(
            line.api_key_ref, line.project_ref, line.environment_ref, line.caller_ref)
        cost = line.cost_usd if line.cost_usd is not None else self.pricer.price(line)
        return (line.source_id, line.occurred_at, line.model, line.provider, line.action,
                line.api_key_ref, line.project_ref, line.environment_ref, line.caller_ref,
                key, project, environment, caller, line.requests, line.input_tokens,
                line.output_tokens, cost)


def _check_and_stage(*, items, rows: _Rows, stage, progress, position, size) -> int:
    """Check every item; stage rows until the first bad line. Returns the line count or
    raises UsageFileError with every bad line."""
    errors, error_count, bad_lines, lines = [], 0, set(), 0
    try:
        for item in items:
            if isinstance(item, LineError):
                error_count += 1
                bad_lines.add(item.line)
                if len(errors) < MAX_REPORTED_ERRORS:
                    errors.append(item.as_dict())
                if error_count == 1:
                    stage.discard()
                continue
            lines += 1
            if not error_count:
                stage.add(rows.row(item))
            if lines % PROGRESS_EVERY == 0:
                stage.flush()
                progress("checking", position(), size)
    except FileError as exc:
        raise UsageFileError(errors, lines=lines, message=str(exc)) from None
    if error_count:
        raise UsageFileError(errors, error_count=error_count,
                             lines=lines + len(bad_lines - {0}))
    if not lines:
        raise UsageFileError([], message="The input has no lines; nothing was imported.")
    return lines


def _write(*, org, actor, job, stage, rows: _Rows, lines: int) -> UsageImport:
    """The write transaction: the new lines, the job's result, audit and event."""
    kind = job.kind
    with transaction.atomic():
        added = stage.insert()
        report = {"lines": lines, "added": added, "duplicates": lines - added}
        if rows.pricer is not None:
            report.update(rows.pricer.report())
        UsageImport.objects.for_org(org).filter(pk=job.pk).update(
            status=UsageImport.Status.SUCCEEDED, finished_at=timezone.now(), payload=None,
            phase="done", progress=lines, total=lines, report=report)
        job.refresh_from_db()
        action = f"{kind}.imported"
        record_event(org=org, actor=actor, action=action, obj=job, changes={
            "source": [None, job.source], "source_ref": [None, job.source_ref],
            "lines": [None, lines], "added": [None, added],
            "duplicates": [None, lines - added]})
        event_emit(org=org, kind=action, subject=job, payload={
            "source": job.source, "source_ref": job.source_ref, "lines": lines,
            "added": added, "duplicates": lines - added})
        transaction.on_commit(
            lambda: usage_imported.send(sender=UsageImport, org=org, job=job))
    return job


def usage_import_stream(*, org, actor, job: UsageImport, stream, size: int = 0,
                        progress=_no_progress) -> UsageImport:
    """Import one file (a binary stream) as job's lines, or write nothing: UsageFileError
    carries the report of every bad line. The file is read once, as a stream; checked
    rows are staged in chunks (PostgreSQL: COPY into a temporary table), so memory stays
    bounded whatever the file size. progress(phase, done, total) runs between chunks,
    outside the write transaction (done/total are bytes while checking)."""
    parse = parsers.parser_for(job.kind, job.source)
    if parse is None:
        raise UsageFileError([], message=f"{UsageSource(job.source).label} has no "
                             f"{job.get_kind_display().lower()} export to import.")
    rows = _Rows(org=org, job=job)
    stage = stage_for(job, rows.now)
    try:
        progress("checking", 0, size)
        lines = _check_and_stage(items=parse(stream), rows=rows, stage=stage,
                                 progress=progress, position=_position(stream), size=size)
        stage.flush()
        progress("writing", 0, lines)
        return _write(org=org, actor=actor, job=job, stage=stage, rows=rows, lines=lines)
    finally:
        stage.close()


def _position(stream):
    def position() -> int:
        try:
            return stream.tell()
        except (OSError, ValueError):
            return 0
    return position


@transaction.atomic
def usage_import_create(*, org, actor, kind: str, source: str, upload) -> UsageImport:
    """Queue the import of an uploaded file (kind usage or billing, from source); the task
    evidence.run_usage_import runs it after commit. Audits usage.import_queued. Raises
    PermissionDenied for members who may not import, ValidationError for a bad request
    (field by field)."""
    if not can_import_usage(actor):
        raise PermissionDenied("Only org admins, owners and finance owners import usage.")
    errors = {}
    if kind not in UsageImport.Kind.values:
        errors["kind"] = "Choose usage or billing."
    if source not in UsageSource.values:
        errors["source"] = "Choose openai, anthropic, litellm or api (the generic shape)."
    elif kind in UsageImport.Kind.values and parsers.parser_for(kind, source) is None:
        errors["source"] = (f"{UsageSource(source).label} has no {kind} export; use the "
                            "generic shape (api) for these lines.")
    if upload is None:
        errors["file"] = "Choose a file."
    elif upload.size > MAX_UPLOAD_BYTES:
        errors["file"] = f"The file is larger than {MAX_UPLOAD_BYTES // 2**20} MB."
    elif not upload.size:
        errors["file"] = "The file is empty."
    if errors:
        raise ValidationError(errors)
    job = UsageImport.objects.create(
        org=org, kind=kind, source=source, source_ref=(upload.name or "upload")[:500],
        payload=upload.read(), created_by=actor, phase="queued")
    record_event(org=org, actor=actor, action=f"{kind}.import_queued", obj=job, changes={
        "kind": [None, kind], "source": [None, source], "source_ref": [None, job.source_ref]})
    from evidence.tasks import run_usage_import_task  # tasks import this module

    transaction.on_commit(lambda: run_usage_import_task.delay(org.pk, job.pk))
    return job


def usage_import_run(*, org, job_id: int) -> UsageImport | None:
    """Run one queued job (the Celery task's body). Claims it with a conditional update:
    a second delivery, or a finished job, does nothing and returns None (a job running
    elsewhere is left alone for STALE_AFTER; rerunning it is safe, the lines it already
    added are skipped as duplicates)."""
    jobs = UsageImport.objects.for_org(org).filter(pk=job_id)
    stale = timezone.now() - STALE_AFTER
    claimable = Q(status=UsageImport.Status.QUEUED) | Q(status=UsageImport.Status.RUNNING,
                                                        started_at__lt=stale)
    if jobs.filter(claimable).update(status=UsageImport.Status.RUNNING,
                                     started_at=timezone.now(), phase="starting") != 1:
        return None
    job = jobs.select_related("created_by__user").get()

    def progress(phase: str, done: int, total: int):
        jobs.update(phase=phase, progress=done, total=total)

    payload = bytes(job.payload or b"")
    try:
        usage_import_stream(org=org, actor=job.created_by, job=job,
                            stream=io.BufferedReader(io.BytesIO(payload)),
                            size=len(payload), progress=progress)
    except UsageFileError as exc:
        jobs.update(status=UsageImport.Status.FAILED, finished_at=timezone.now(),
                    payload=None, phase="failed", report=exc.report())
    except OperationalError:
        # The database went away mid-run: nothing was written (all or nothing), so hand
        # the job back for the task's retry instead of leaving it running until stale.
        jobs.update(status=UsageImport.Status.QUEUED, phase="retrying")
        raise
    except Exception:
        jobs.update(status=UsageImport.Status.FAILED, finished_at=timezone.now(),
                    payload=None, phase="failed", report={
                        "error": "The import stopped on an internal error; nothing was "
                                 "imported. The administrators have the details."})
        raise
    return jobs.get()


class BatchError(ValidationError):
    """Bad lines of an API batch: {"<line>": {field: [messages]}}, 1-based."""

    def __init__(self, errors: dict):
        super().__init__("Bad lines; nothing was imported.")
        self.lines = errors


def _batch_errors(items) -> tuple[list, dict]:
    good, errors = [], {}
    for item in items:
        if isinstance(item, LineError):
            errors.setdefault(str(item.line), {}).setdefault(item.field, []).append(
                item.message)
        else:
            good.append(item)
    return good, errors


def usage_batch_push(*, org, actor, kind: str, lines: list) -> UsageImport:
    """Import a batch of lines in the generic shape pushed over the API (up to
    MAX_BATCH_LINES), synchronously, as a finished job of source "api". Any bad line
    raises ValidationError({"lines": {"<n>": {field: [messages]}}}) (n is 1-based) and
    nothing is written; lines imported before are counted as duplicates."""
    if not can_import_usage(actor):
        raise PermissionDenied("Only org admins, owners and finance owners import usage.")
    if not isinstance(lines, list) or not lines:
        raise ValidationError({"lines": "Send a non-empty list of lines."})
    if len(lines) > MAX_BATCH_LINES:
        raise ValidationError({"lines": f"At most {MAX_BATCH_LINES} lines per request; "
                                        f"this one has {len(lines)}."})
    check = parsers.generic_usage_line if kind == "usage" else parsers.generic_billing_line
    good, errors = _batch_errors(
        item for n, raw in enumerate(lines, 1)
        for item in check(n, raw if isinstance(raw, dict) else {}))
    if errors:
        raise BatchError(errors)
    with transaction.atomic():
        job = UsageImport.objects.create(
            org=org, kind=kind, source=UsageSource.API, source_ref="api",
            status=UsageImport.Status.RUNNING, started_at=timezone.now(), created_by=actor,
            phase="writing", total=len(good))
        rows = _Rows(org=org, job=job)
        stage = stage_for(job, rows.now)
        try:
            for line in good:
                stage.add(rows.row(line))
            stage.flush()
            return _write(org=org, actor=actor, job=job, stage=stage, rows=rows,
                          lines=len(good))
        finally:
            stage.close()
