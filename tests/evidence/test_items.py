"""Evidence items: hashing, upload limits, revisions and review rules (evidence/items.py)."""

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from evidence.items import canonical_sha256, evidence_item_create, evidence_item_review
from evidence.models import EvidenceItem
from orgs.roles import Role
from tests.approvals.conftest import Counts

K = EvidenceItem.Kind
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def upload(name="usage.csv", data=b"key,cost\nk1,1.00\n", content_type="text/csv"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def create(org, actor, **kwargs):
    fields = {"kind": K.USAGE_ROW, "title": "Usage, November"} | kwargs
    return evidence_item_create(org=org, actor=actor, **fields)


def stored_files(org):
    root = Path(settings.MEDIA_ROOT) / "evidence" / str(org.pk)
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def test_a_file_is_hashed_stored_under_its_own_id_and_audited(org_a, owner):
    data = b"key,cost\n" + b"k1,1.00\n" * 20000  # several chunks
    before = Counts(org_a)
    item = create(org_a, owner, file=upload(data=data))
    assert item.sha256 == hashlib.sha256(data).hexdigest()
    assert (item.file_size, item.file_name, item.content_type) == (len(data), "usage.csv",
                                                                    "text/csv")
    assert item.file.name == f"evidence/{org_a.pk}/{item.public_id}.csv"
    assert item.file.open("rb").read() == data
    assert (item.collector, item.collector_label) == (owner, owner.user.email)
    [audit] = before.new_audit()
    assert audit.action == "evidence.collected" and audit.changes["sha256"] == [None, item.sha256]
    assert [e.kind for e in before.new_events()] == ["evidence.collected"]


def test_content_and_url_are_hashed_as_canonical_json(org_a, owner):
    a = create(org_a, owner, content={"b": 1, "a": [1, 2]}, url="https://x.test/r")
    b = create(org_a, owner, content={"a": [1, 2], "b": 1}, url="https://x.test/r")
    c = create(org_a, owner, content={"a": [1, 2], "b": 2}, url="https://x.test/r")
    assert a.sha256 == b.sha256 == canonical_sha256(content={"a": [1, 2], "b": 1},
                                                    url="https://x.test/r")
    assert c.sha256 != a.sha256


@pytest.mark.parametrize(("file", "message"), [
    (upload("tool.exe", b"MZ...", "application/octet-stream"), "not accepted"),
    (upload("shot.png", b"just text", "image/png"), "not a real .png"),
    (upload("report.pdf", b"%PDF-1.7", "text/html"), "cannot be text/html"),
    (upload("notes.txt", b"a\x00b", "text/plain"), "must be text"),
])
def test_a_file_of_a_refused_type_is_a_field_error_and_nothing_is_stored(
        org_a, owner, file, message):
    with pytest.raises(ValidationError, match=message) as exc:
        create(org_a, owner, file=file)
    assert "file" in exc.value.message_dict
    assert not EvidenceItem.objects.for_org(org_a).exists()
    assert stored_files(org_a) == []


def test_allowed_binary_types_pass_their_magic_check(org_a, owner):
    item = create(org_a, owner, file=upload("quota.png", PNG, "image/png"))
    assert item.file.name.endswith(".png")


def test_a_file_over_the_limit_is_refused_and_nothing_is_stored(org_a, owner, settings):
    settings.EVIDENCE_MAX_UPLOAD_BYTES = 10
    with pytest.raises(ValidationError, match="the limit is 10 bytes") as exc:
        create(org_a, owner, file=upload(data=b"x" * 11))
    assert list(exc.value.message_dict) == ["file"]
    assert not EvidenceItem.objects.for_org(org_a).exists() and stored_files(org_a) == []


@pytest.mark.parametrize(("fields", "field"), [
    ({}, "file"),
    ({"file": upload(), "url": "https://x.test"}, "url"),
    ({"kind": K.SMOKE_TEST, "content": {"passed": True}}, "action"),
    ({"content": {"a": 1}, "action": "teleport"}, "action"),
    ({"content": {"a": 1}, "title": "  "}, "title"),
    ({"content": {"a": 1}, "valid_until": timezone.localdate() - timedelta(days=1)},
     "valid_until"),
])
def test_bad_input_names_the_field_and_saves_nothing(org_a, owner, fields, field):
    with pytest.raises(ValidationError) as exc:
        create(org_a, owner, **fields)
    assert field in exc.value.message_dict
    assert not EvidenceItem.objects.for_org(org_a).exists()


def test_a_new_upload_is_a_revision_and_the_old_one_stays(org_a, owner):
    old = create(org_a, owner, content={"v": 1})
    new = create(org_a, owner, content={"v": 2}, supersedes=old)
    old.refresh_from_db()
    assert new.supersedes == old and old.superseded_by == new
    assert old.content == {"v": 1}
    with pytest.raises(ValidationError, match="already has a newer revision"):
        create(org_a, owner, content={"v": 3}, supersedes=old)
    with pytest.raises(ValidationError, match="keeps the kind"):
        create(org_a, owner, kind=K.BILLING_ROW, content={"v": 3}, supersedes=new)


def test_a_revision_of_another_orgs_item_is_refused(org_a, owner, outsider, org_b):
    theirs = create(org_b, outsider, content={"v": 1})
    with pytest.raises(ValidationError, match="not in this organization"):
        create(org_a, owner, content={"v": 2}, supersedes=theirs)


def test_system_collection_is_labelled_system(org_a):
    item = create(org_a, None, kind=K.CATALOG_ROW, content={"entries": []})
    assert (item.collector, item.collector_label) == (None, "system")


# --- review ---------------------------------------------------------------------------

def test_security_accepts_and_it_is_audited(org_a, owner, personas):
    item = create(org_a, owner, content={"a": 1})
    before = Counts(org_a)
    item = evidence_item_review(org=org_a, actor=personas[Role.SECURITY], item=item,
                                decision="accepted")
    assert (item.review_status, item.reviewed_by) == ("accepted", personas[Role.SECURITY])
    [audit] = before.new_audit()
    assert audit.action == "evidence.reviewed"
    assert audit.changes["review_status"] == ["pending", "accepted"]
    assert [e.kind for e in before.new_events()] == ["evidence.accepted"]


def test_rejecting_needs_a_comment(org_a, owner, personas):
    item = create(org_a, owner, content={"a": 1})
    with pytest.raises(ValidationError) as exc:
        evidence_item_review(org=org_a, actor=personas[Role.FINANCE], item=item,
                             decision="rejected", comment=" ")
    assert "comment" in exc.value.message_dict
    item.refresh_from_db()
    assert item.review_status == "pending"
    item = evidence_item_review(org=org_a, actor=personas[Role.FINANCE], item=item,
                                decision="rejected", comment="Wrong month")
    assert (item.review_status, item.review_comment) == ("rejected", "Wrong month")


def test_the_collector_cannot_review_their_own_item(org_a, personas):
    item = create(org_a, personas[Role.ADMIN], content={"a": 1})
    with pytest.raises(PermissionDenied):
        evidence_item_review(org=org_a, actor=personas[Role.ADMIN], item=item,
                             decision="accepted")


@pytest.mark.parametrize("role", [Role.MEMBER, Role.AUDITOR])
def test_members_and_auditors_cannot_review(org_a, owner, personas, role):
    item = create(org_a, owner, content={"a": 1})
    with pytest.raises(PermissionDenied):
        evidence_item_review(org=org_a, actor=personas[role], item=item, decision="accepted")


def test_a_superseded_item_is_not_reviewed(org_a, owner, personas):
    old = create(org_a, owner, content={"v": 1})
    create(org_a, owner, content={"v": 2}, supersedes=old)
    with pytest.raises(ValidationError, match="newer revision"):
        evidence_item_review(org=org_a, actor=personas[Role.SECURITY], item=old,
                             decision="accepted")
