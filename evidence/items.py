"""Evidence items: collect one artifact (a file, a URL or structured content) and review it.

Evidence is a fact: these services know nothing of policy rows. approvals/services/
evidence.py attaches items to rows and decides who may collect evidence for a row; here
we check the artifact itself (type, size, hash, revision chain) and who may review it.
"""

import hashlib
import json
import os

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from evidence.families import Action
from evidence.models import EvidenceItem
from evidence.permissions import can_review_evidence
from orgs.audit import record_event
from orgs.events import event_emit

CHUNK = 64 * 1024
# Structured content is a test result or a catalog row, not a place for files.
MAX_CONTENT_BYTES = 256 * 1024
# Content types a browser or client may declare for each extension. The declared type
# must match the extension, and binary formats must start with their magic bytes, so a
# renamed executable is refused whatever name it carries.
ALLOWED_TYPES = {
    "pdf": ({"application/pdf"}, (b"%PDF",)),
    "png": ({"image/png"}, (b"\x89PNG\r\n\x1a\n",)),
    "jpg": ({"image/jpeg", "image/pjpeg"}, (b"\xff\xd8\xff",)),
    "jpeg": ({"image/jpeg", "image/pjpeg"}, (b"\xff\xd8\xff",)),
    "zip": ({"application/zip", "application/x-zip-compressed"}, (b"PK\x03\x04", b"PK\x05\x06")),
    "txt": ({"text/plain"}, ()),
    "csv": ({"text/csv", "text/plain", "application/vnd.ms-excel"}, ()),
    "json": ({"application/json", "text/json", "text/plain"}, ()),
    "md": ({"text/markdown", "text/x-markdown", "text/plain"}, ()),
    "html": ({"text/html"}, ()),
}
TEXT_TYPES = {"txt", "csv", "json", "md", "html"}


def canonical_sha256(*, content: dict, url: str) -> str:
    """SHA-256 of the canonical JSON (sorted keys, no spaces) of an item's content and URL."""
    body = json.dumps({"content": content, "url": url}, sort_keys=True,
                      separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def _extension(name: str) -> str:
    return os.path.splitext(name or "")[1].lstrip(".").lower()


def _check_file(file) -> str:
    """Refuse a file over the size limit or of a type not allowed; return its extension."""
    limit = settings.EVIDENCE_MAX_UPLOAD_BYTES
    if file.size is not None and file.size > limit:
        raise ValidationError({"file": f"The file is {file.size:,} bytes; the limit is "
                                       f"{limit:,} bytes."})
    ext = _extension(file.name)
    allowed = [e.lower() for e in settings.EVIDENCE_ALLOWED_EXTENSIONS]
    if ext not in allowed or ext not in ALLOWED_TYPES:
        raise ValidationError({"file": f"Files of type .{ext or '?'} are not accepted; use "
                                       f"one of {', '.join(allowed)}."})
    types, magic = ALLOWED_TYPES[ext]
    declared = (getattr(file, "content_type", "") or "").split(";")[0].strip().lower()
    if declared and declared not in types:
        raise ValidationError({"file": f"A .{ext} file cannot be {declared}."})
    file.seek(0)
    head = file.read(2048)
    file.seek(0)
    if magic and not any(head.startswith(m) for m in magic):
        raise ValidationError({"file": f"This file is not a real .{ext} file."})
    if ext in TEXT_TYPES and b"\x00" in head:
        raise ValidationError({"file": f"A .{ext} file must be text."})
    return ext


def _file_sha256(file) -> tuple[str, int]:
    # Streamed in chunks: an upload of the maximum size never sits in memory whole.
    digest, size = hashlib.sha256(), 0
    file.seek(0)
    for chunk in file.chunks(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    file.seek(0)
    if size > settings.EVIDENCE_MAX_UPLOAD_BYTES:
        raise ValidationError({"file": "The file is over the upload limit."})
    return digest.hexdigest(), size


def _check_source(*, kind, file, url, content, action, valid_until):
    errors = {}
    if kind not in EvidenceItem.Kind.values:
        errors["kind"] = "Choose a kind of evidence."
    if file is None and not url and not content:
        errors["file"] = "Attach a file, give a URL or enter the structured content."
    elif file is not None and url:
        errors["url"] = "Give a file or a URL, not both."
    if content is not None and not isinstance(content, dict):
        errors["content"] = "Structured content must be a JSON object."
    elif content and len(json.dumps(content, default=str)) > MAX_CONTENT_BYTES:
        errors["content"] = f"Structured content is limited to {MAX_CONTENT_BYTES:,} bytes."
    if action and action not in Action.values:
        errors["action"] = "Choose one of the allowed actions."
    if kind == EvidenceItem.Kind.SMOKE_TEST and not action:
        errors["action"] = "A smoke test names the action it exercised."
    if valid_until is not None and valid_until < timezone.localdate():
        errors["valid_until"] = "This date has passed; the evidence would be expired already."
    if errors:
        raise ValidationError(errors)


def _check_supersedes(org, kind, supersedes):
    if supersedes is None:
        return
    if supersedes.org_id != org.pk:
        raise ValidationError({"supersedes": "That evidence item is not in this organization."})
    if supersedes.kind != kind:
        raise ValidationError({"supersedes": "A revision keeps the kind of the item it "
                                             "replaces."})
    if EvidenceItem.objects.for_org(org).filter(supersedes=supersedes).exists():
        raise ValidationError({"supersedes": "That item already has a newer revision."})


@transaction.atomic
def evidence_item_create(*, org, actor, kind: str, title: str, file=None, url: str = "",
                         content: dict | None = None, action: str = "", valid_until=None,
                         supersedes: EvidenceItem | None = None) -> EvidenceItem:
    """Collect one evidence item: a file (type and size limits from settings, SHA-256 of
    its bytes, stored through the default storage), a URL and/or structured content
    (SHA-256 of their canonical JSON). actor is a Membership of org, or None for automatic
    collection ("system"). With `supersedes`, the item is a new revision of an older one of
    the same kind; the old one stays. Who may collect for a row is decided by the caller
    (approvals). Audits evidence.collected and emits it."""
    if actor is not None and actor.org_id != org.pk:
        raise PermissionDenied("Only members of this organization collect its evidence.")
    title = (title or "").strip()
    if not title:
        raise ValidationError({"title": "Name the evidence, e.g. 'Smoke test: chat'."})
    url, content = (url or "").strip(), content or {}
    _check_source(kind=kind, file=file, url=url, content=content, action=action,
                  valid_until=valid_until)
    _check_supersedes(org, kind, supersedes)
    item = EvidenceItem(org=org, kind=kind, title=title[:200], action=action, url=url,
                        content=content, valid_until=valid_until, supersedes=supersedes,
                        collector=actor,
                        collector_label=actor.user.email if actor is not None else "system")
    if file is not None:
        ext = _check_file(file)
        item.sha256, item.file_size = _file_sha256(file)
        item.file_name = os.path.basename(file.name)[:255]
        declared = (getattr(file, "content_type", "") or "").split(";")[0].strip().lower()
        item.content_type = declared or sorted(ALLOWED_TYPES[ext][0])[0]
        # Stored under the org and the item's own id (evidence_upload_to), never the
        # uploader's path; save=False so the row is written once, below.
        item.file.save(item.file_name, file, save=False)
    else:
        item.sha256 = canonical_sha256(content=content, url=url)
    item.save()
    record_event(org=org, actor=actor, action="evidence.collected", obj=item,
                 changes={"kind": [None, kind], "sha256": [None, item.sha256],
                          **({"supersedes": [None, str(supersedes.public_id)]}
                             if supersedes else {})})
    event_emit(org=org, kind="evidence.collected", subject=item,
               payload={"kind": kind, "title": item.title, "sha256": item.sha256})
    return item


@transaction.atomic
def evidence_item_review(*, org, actor, item: EvidenceItem, decision: str,
                         comment: str = "") -> EvidenceItem:
    """A reviewer (platform, security or finance; never the item's collector) accepts or
    rejects an item, rejecting with a comment. A superseded revision is not reviewed: its
    newer revision is. Audits evidence.reviewed; emits evidence.accepted or
    evidence.rejected."""
    item = EvidenceItem.objects.for_org(org).select_for_update().get(pk=item.pk)
    if not can_review_evidence(actor, item):
        raise PermissionDenied("Only platform, security or finance reviewers review evidence, "
                               "and never evidence they collected.")
    if decision not in (EvidenceItem.Review.ACCEPTED, EvidenceItem.Review.REJECTED):
        raise ValidationError({"decision": "Accept or reject."})
    comment = (comment or "").strip()
    if decision == EvidenceItem.Review.REJECTED and not comment:
        raise ValidationError({"comment": "Say why you reject it; the collector needs it."})
    if EvidenceItem.objects.for_org(org).filter(supersedes=item).exists():
        raise ValidationError({"decision": "A newer revision replaces this item; review "
                                           "that one."})
    old = item.review_status
    item.review_status, item.review_comment = decision, comment
    item.reviewed_by, item.reviewed_at = actor, timezone.now()
    item.save(update_fields=["review_status", "review_comment", "reviewed_by", "reviewed_at"])
    record_event(org=org, actor=actor, action="evidence.reviewed", obj=item,
                 changes={"review_status": [old, decision],
                          **({"comment": [None, comment]} if comment else {})})
    event_emit(org=org, kind=f"evidence.{decision}", subject=item,
               payload={"kind": item.kind, "title": item.title, "comment": comment})
    return item


def evidence_item_collect_system(*, org, kind: str, title: str, content: dict,
                                 action: str = "") -> EvidenceItem:
    """Automatic collection from the product's own data (collector "system"), for use
    inside another audited service that names the item in its own audit event (the screen
    step records its catalog evidence this way, so each move keeps one audit event).
    The route smoke tests record each result this way, with the `action` it exercised.
    Writes no audit event of its own; call it only inside that caller's transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("evidence_item_collect_system runs inside an audited service")
    if action and action not in Action.values:
        raise ValueError(f"Unknown action {action!r}")
    return EvidenceItem.objects.create(
        org=org, kind=kind, title=title[:200], content=content, action=action, collector=None,
        collector_label="system", sha256=canonical_sha256(content=content, url=""))
