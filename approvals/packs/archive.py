"""Writing an evidence pack's ZIP: the evidence files, summary.html and manifest.json.

Layout (docs/evidence-packs.md):

    manifest.json                     what is inside, with the SHA-256 of every other file
    summary.html                      the readable summary, self-contained (no external assets)
    items/<item id>/<file name>       a file item, byte for byte as stored
    items/<item id>.json              a content (or URL) item: the canonical JSON that its
                                      recorded SHA-256 was computed over

So every item's file in the ZIP hashes to the SHA-256 recorded when it was collected; a
file changed in storage since then shows up as a mismatch in verify_evidence_pack (and is
named in the manifest's "problems" when the pack is built).
"""

import hashlib
import json
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Prefetch
from django.template.loader import render_to_string
from django.utils import timezone

from approvals.checklist import row_checklist, row_links
from approvals.models import Action, DataClass, Finding, PolicyRow, RenewalTrigger, SignOff
from evidence.models import CatalogEntry, EvidenceItem

PACK_FORMAT = "governance-evidence-pack/1"
GENERATOR = "governance evidence pack builder (approvals/packs), format 1"
MANIFEST = "manifest.json"
SUMMARY = "summary.html"
CHUNK = 64 * 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def content_bytes(item: EvidenceItem) -> bytes:
    """The canonical JSON of a content or URL item: the very bytes evidence.items
    canonical_sha256 hashed when the item was collected."""
    return json.dumps({"content": item.content, "url": item.url}, sort_keys=True,
                      separators=(",", ":"), default=str).encode()


def item_path(item: EvidenceItem) -> str:
    if item.file:
        name = _UNSAFE.sub("_", (item.file_name or item.file.name).rsplit("/", 1)[-1])
        return f"items/{item.public_id}/{name.strip('._') or 'file'}"
    return f"items/{item.public_id}.json"


def pack_rows(*, org, pack) -> list[PolicyRow]:
    """The rows of a pack (its row, or every row of its project, by environment, caller
    and age), with what the summary shows: three queries."""
    qs = (PolicyRow.objects.for_org(org)
          .select_related("project", "environment", "caller", "api_key", "workload_identity",
                          "requested_by__user", "app_owner__user", "engineering_owner__user",
                          "finance_owner__user", "evidence_owner__user", "cutoff_owner__user",
                          "fallback_row__caller", "fallback_row__environment")
          .prefetch_related(
              Prefetch("approved_models", queryset=CatalogEntry.objects
                       .select_related("snapshot").order_by("platform", "model_id")),
              Prefetch("signoffs", queryset=SignOff.objects.order_by("signed_at", "pk"))))
    if pack.row_id:
        return list(qs.filter(pk=pack.row_id))
    return list(qs.filter(project_id=pack.project_id)
                .order_by("environment__name", "caller__name", "created_at", "pk"))


@dataclass
class RowPart:
    """One row's share of the pack: its checklist, items and findings."""

    row: PolicyRow
    checklist: object
    items: list
    findings: list
    extract: EvidenceItem | None = None


@dataclass
class PackWriter:
    """Streams the pack into `target` (a binary file) and keeps the manifest as it goes."""

    target: object
    generated_at: datetime
    entries: list = field(default_factory=list)  # manifest "items"
    files: list = field(default_factory=list)  # manifest "files" (summary.html, ...)
    problems: list = field(default_factory=list)
    paths: dict = field(default_factory=dict)  # item pk -> path in the ZIP

    def __post_init__(self):
        self.zip = zipfile.ZipFile(self.target, "w", compression=zipfile.ZIP_DEFLATED)

    def _info(self, path: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(path, date_time=self.generated_at.timetuple()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED
        return info

    def _write(self, path: str, chunks) -> tuple[str, int]:
        digest, size = hashlib.sha256(), 0
        with self.zip.open(self._info(path), "w") as out:
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        return digest.hexdigest(), size

    def add_item(self, item: EvidenceItem, rows: list[str]):
        """One evidence item: its file as stored, or its canonical JSON."""
        path = item_path(item)
        try:
            if item.file:
                with item.file.open("rb") as stored:
                    actual, size = self._write(path, iter(lambda: stored.read(CHUNK), b""))
            else:
                actual, size = self._write(path, [content_bytes(item)])
        except OSError as exc:
            # A file gone from storage: the manifest says so and verification fails.
            self.problems.append(f"item {item.public_id} ({item.title}): its stored file "
                                 f"could not be read ({type(exc).__name__}); not in the pack")
            path, size = None, None
        else:
            if actual != item.sha256:
                self.problems.append(f"item {item.public_id} ({item.title}): the stored file "
                                     "no longer matches the SHA-256 recorded at collection")
        self.paths[item.pk] = path
        self.entries.append(_manifest_item(item, path, size, rows))

    def add_file(self, path: str, data: bytes):
        sha, size = self._write(path, [data])
        self.files.append({"path": path, "sha256": sha, "size": size})

    def finish(self, manifest: dict):
        """Write manifest.json last (it lists everything else) and close the ZIP."""
        manifest.update(items=self.entries, files=self.files, problems=self.problems)
        self.zip.writestr(self._info(MANIFEST), json.dumps(manifest, indent=2,
                                                           sort_keys=False, default=str))
        self.zip.close()


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _manifest_item(item: EvidenceItem, path, size, rows) -> dict:
    return {"id": str(item.public_id), "kind": item.kind, "title": item.title,
            "sha256": item.sha256, "collector": item.collector_label,
            "collected_at": _iso(item.collected_at), "valid_until": _iso(item.valid_until),
            "review_status": item.review_status,
            "reviewed_by": item.reviewed_by.user.email if item.reviewed_by else None,
            "reviewed_at": _iso(item.reviewed_at), "review_comment": item.review_comment,
            "superseded": bool(getattr(item, "is_superseded", False)),
            "supersedes": str(item.supersedes.public_id) if item.supersedes else None,
            "source": "file" if item.file else ("url" if item.url and not item.content
                                                else "content"),
            "file_name": item.file_name or None, "content_type": item.content_type or None,
            "url": item.url or None, "path": path, "size": size, "rows": rows}


def row_part(*, org, row: PolicyRow, extract: EvidenceItem | None) -> RowPart:
    """One row's checklist (states as of now), attached items (newest first, revisions
    included) and findings: two queries."""
    links = list(row_links(row).select_related("item__reviewed_by__user",
                                               "item__supersedes"))
    checklist = row_checklist(row, links=links)
    findings = list(Finding.objects.for_org(org).filter(row=row)
                    .select_related("owner__user").order_by("-raised_at"))
    return RowPart(row=row, checklist=checklist, items=checklist.items, findings=findings,
                   extract=extract)


def _labels(values, choices) -> list[str]:
    known = dict(choices)
    return [known.get(v, v) for v in values]


def summary_html(*, pack, org, parts: list[RowPart], writer: PackWriter) -> bytes:
    """The readable summary: pack metadata, then per row its fields, models, sign-offs,
    checklist with states, items with their path and hash, findings and the audit extract
    of this pack."""
    rows = []
    for part in parts:
        row = part.row
        rows.append({
            "row": row, "checklist": part.checklist, "findings": part.findings,
            "actions": _labels(row.allowed_actions, Action.choices),
            "data_classes": _labels(row.data_classes, DataClass.choices),
            "triggers": _labels(row.renewal_triggers, RenewalTrigger.choices),
            "signoffs": list(row.signoffs.all()),
            "items": [(item, writer.paths.get(item.pk)) for item in part.items],
            "lines": [(line, writer.paths.get(line.item.pk) if line.item else None)
                      for line in part.checklist.lines],
            "extract": part.extract.content if part.extract else None,
            "extract_item": part.extract,
            "extract_path": writer.paths.get(part.extract.pk) if part.extract else None,
        })
    context = {"pack": pack, "org": org, "rows": rows, "subject": subject_label(pack),
               "generated_at": writer.generated_at, "problems": writer.problems,
               "generator": GENERATOR, "today": timezone.localdate()}
    return render_to_string("approvals/pack_summary.html", context).encode()


def subject_label(pack) -> str:
    if pack.row_id:
        row = pack.row
        return f"Row {row.caller.name} in {row.environment.name} ({row.project.name})"
    return f"Project {pack.project.name}"


def manifest_head(*, pack, org, rows: list[PolicyRow], generated_at: datetime) -> dict:
    """Everything in manifest.json before the items and files."""
    subject = ({"type": "row", "id": str(pack.row.public_id), "name": subject_label(pack)}
               if pack.row_id else
               {"type": "project", "id": str(pack.project.public_id),
                "name": pack.project.name})
    return {
        "format": PACK_FORMAT, "pack": str(pack.public_id),
        "org": {"slug": org.slug, "name": org.name}, "subject": subject,
        "generated_at": generated_at.isoformat(), "generator": GENERATOR,
        "requested_by": pack.requested_by_label or None,
        "rows": [{"id": str(r.public_id), "project": r.project.name,
                  "environment": r.environment.name, "caller": r.caller.name,
                  "status": r.status, "version": r.version} for r in rows],
    }
