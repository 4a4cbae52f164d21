"""Requesting and building evidence packs.

pack_request is the service behind "Export evidence pack" (row page, project page): it
records the request and queues approvals.build_evidence_pack after commit. pack_build is
that task's body: it claims the pack with a conditional update (a second delivery does
nothing), collects a fresh audit extract of each row, writes the ZIP (archive.py) to a
temporary file with progress on the pack, stores it through the default storage and
records its SHA-256. Packs of any size take this background path.
"""

import hashlib
import logging
import tempfile
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import OperationalError, transaction
from django.db.models import Q
from django.utils import timezone

from approvals.packs import archive
from approvals.packs.extract import row_audit_extract_collect
from approvals.packs.models import EvidencePack
from approvals.packs.permissions import can_export_project_pack, can_export_row_pack
from approvals.services.rows import require_member
from evidence.models import EvidenceItem
from orgs.audit import record_event
from orgs.events import event_emit

logger = logging.getLogger(__name__)

# A pack left "running" this long by a dead worker is built again by the next delivery.
STALE_AFTER = timedelta(minutes=15)
CHUNK = 64 * 1024


@transaction.atomic
def pack_request(*, org, actor, row=None, project=None) -> EvidencePack:
    """Request the evidence pack of one row (auditors, security, admins, owners and the
    row's evidence owner) or of one project (auditors, security, admins, owners). Queues
    the build after commit. Audits approval.pack_requested; emits evidence.pack_requested."""
    require_member(actor, org)
    if (row is None) == (project is None):
        raise ValidationError({"subject": "Choose one row or one project to export."})
    subject = row if row is not None else project
    if subject.org_id != org.pk:
        raise ValidationError({"subject": "That is not in this organization."})
    allowed = (can_export_row_pack(actor, row) if row is not None
               else can_export_project_pack(actor, project))
    if not allowed:
        raise PermissionDenied("Only auditors, security reviewers, admins and the row's "
                               "evidence owner export evidence packs.")
    pack = EvidencePack.objects.create(org=org, row=row, project=project, requested_by=actor,
                                       requested_by_label=actor.user.email, phase="queued")
    label = f"{'row' if row is not None else 'project'}:{subject.public_id}"
    record_event(org=org, actor=actor, action="approval.pack_requested", obj=pack,
                 changes={"subject": [None, label]})
    event_emit(org=org, kind="evidence.pack_requested", subject=pack,
               payload={"pack": str(pack.public_id), "subject": label})
    from approvals.tasks import build_evidence_pack_task  # tasks import this module

    transaction.on_commit(lambda: build_evidence_pack_task.delay(org.pk, pack.pk))
    return pack


def _claim(org, pack_id: int) -> bool:
    """Claim a queued pack, or one a dead worker left running for STALE_AFTER."""
    stale = timezone.now() - STALE_AFTER
    claimable = Q(status=EvidencePack.Status.QUEUED) | Q(status=EvidencePack.Status.RUNNING,
                                                         started_at__lt=stale)
    return EvidencePack.objects.for_org(org).filter(claimable, pk=pack_id).update(
        status=EvidencePack.Status.RUNNING, started_at=timezone.now(), phase="starting",
        progress=0, error="") == 1


def pack_build(*, org, pack_id: int) -> EvidencePack | None:
    """Build one requested pack (the Celery task's body); None when another delivery has
    claimed it or it is finished. A database error puts it back in the queue and is
    raised again (the task retries); any other error fails the pack with the reason."""
    if not _claim(org, pack_id):
        return None
    packs = EvidencePack.objects.for_org(org).filter(pk=pack_id)
    pack = packs.select_related("row__caller", "row__environment", "row__project",
                                "project", "requested_by__user").get()
    try:
        _build(org, pack, packs)
    except OperationalError:
        packs.update(status=EvidencePack.Status.QUEUED, phase="queued again")
        raise
    except Exception as exc:  # noqa: BLE001 - the page must say why, never hang at "building"
        logger.exception("Evidence pack %s of org %s failed", pack.public_id, org.slug)
        _finish_failed(org, pack, f"{type(exc).__name__}: {exc}")
    return packs.get()


def _progress(packs, phase: str, done: int, total: int):
    packs.update(phase=phase, progress=done, total=total)


def _extracts(org, pack, rows, packs) -> dict:
    """A fresh audit extract of each row, one transaction each; reuses those already
    collected for this pack by an earlier, interrupted run."""
    done = dict(pack.extracts)
    total = len(rows) + 2
    for i, row in enumerate(rows):
        _progress(packs, "collecting audit extracts", i, total)
        if str(row.public_id) not in done:
            item = row_audit_extract_collect(org=org, actor=None, row=row, pack=pack)
            done[str(row.public_id)] = str(item.public_id)
            packs.update(extracts=done)
    items = EvidenceItem.objects.for_org(org).filter(public_id__in=list(done.values()))
    by_id = {str(item.public_id): item for item in items}
    return {row.pk: by_id.get(done.get(str(row.public_id), "")) for row in rows}


def _build(org, pack, packs):
    rows = archive.pack_rows(org=org, pack=pack)
    extracts = _extracts(org, pack, rows, packs)
    parts = [archive.row_part(org=org, row=row, extract=extracts[row.pk]) for row in rows]
    items, owners = {}, {}
    for part in parts:
        for item in part.items:
            items.setdefault(item.pk, item)
            owners.setdefault(item.pk, []).append(str(part.row.public_id))
    total = len(rows) + len(items) + 2
    generated_at = timezone.now().replace(microsecond=0)
    with tempfile.TemporaryFile() as tmp:
        writer = archive.PackWriter(target=tmp, generated_at=generated_at)
        try:
            for i, item in enumerate(items.values()):
                _progress(packs, "adding evidence files", len(rows) + i, total)
                writer.add_item(item, owners[item.pk])
            _progress(packs, "writing the summary", total - 2, total)
            writer.add_file(archive.SUMMARY, archive.summary_html(
                pack=pack, org=org, parts=parts, writer=writer))
            writer.finish(archive.manifest_head(pack=pack, org=org, rows=rows,
                                                generated_at=generated_at))
        finally:
            writer.zip.close()  # idempotent; a failed build leaves no open handle behind
        _progress(packs, "storing", total - 1, total)
        sha, size = _digest(tmp)
        pack.file.save(f"{pack.public_id}.zip", File(tmp), save=False)
    _finish_ok(org, pack, name=pack.file.name, sha=sha, size=size, items=len(items),
               problems=len(writer.problems), total=total)


def _digest(tmp) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    tmp.seek(0)
    for chunk in iter(lambda: tmp.read(CHUNK), b""):
        digest.update(chunk)
        size += len(chunk)
    tmp.seek(0)
    return digest.hexdigest(), size


@transaction.atomic
def _finish_ok(org, pack, *, name, sha, size, items, problems, total):
    EvidencePack.objects.for_org(org).filter(pk=pack.pk).update(
        status=EvidencePack.Status.SUCCEEDED, finished_at=timezone.now(), phase="done",
        file=name, sha256=sha, size=size, item_count=items, progress=total, total=total)
    record_event(org=org, actor=None, action="approval.pack_built", obj=pack,
                 changes={"sha256": [None, sha], "items": [None, items],
                          "problems": [None, problems]})
    event_emit(org=org, kind="evidence.pack_built", subject=pack,
               payload={"pack": str(pack.public_id), "sha256": sha, "items": items,
                        "audience": _audience(pack)})


@transaction.atomic
def _finish_failed(org, pack, reason: str):
    EvidencePack.objects.for_org(org).filter(pk=pack.pk).update(
        status=EvidencePack.Status.FAILED, finished_at=timezone.now(), phase="failed",
        error=reason[:2000])
    record_event(org=org, actor=None, action="approval.pack_failed", obj=pack,
                 changes={"error": [None, reason[:500]]})
    event_emit(org=org, kind="evidence.pack_failed", subject=pack,
               severity="warning",
               payload={"pack": str(pack.public_id), "error": reason[:500],
                        "audience": _audience(pack)})


def _audience(pack) -> list[int]:
    return [pack.requested_by.user_id] if pack.requested_by_id else []
