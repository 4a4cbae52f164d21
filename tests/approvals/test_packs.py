"""Audit extracts and evidence packs: the extract holds the row's events with their chain
hashes; the pack's ZIP verifies with manage.py verify_evidence_pack, and a changed byte,
a missing file or an extra file is caught; the summary names what a reviewer looks for;
the task builds with progress; pages are org-scoped and their query counts pinned."""

import hashlib
import io
import json
import uuid
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from approvals.management.commands.verify_evidence_pack import Command as VerifyCommand
from approvals.models import EvidencePack, Finding, PolicyRow, RowEvidence, SignOff
from approvals.packs.build import pack_build, pack_request
from approvals.packs.extract import row_audit_extract_collect
from approvals.packs.verify import event_hash
from approvals.services.evidence import row_evidence_collect
from approvals.tasks import build_evidence_pack_task
from evidence.models import EvidenceItem
from orgs.audit import AuditEvent
from orgs.roles import Role
from tests.approvals.conftest import Counts, sign
from tests.conftest import login
from tests.factories import MembershipFactory

S = PolicyRow.Status
K = EvidenceItem.Kind
PDF = b"%PDF-1.7 rollback drill: switched to the fallback in 42 s"


@pytest.fixture
def rich_row(make_row, org_a, people):
    """A row in review with every required item (content items), a PDF file item, a
    security sign-off and a finding."""
    row = make_row(S.IN_REVIEW)
    row_evidence_collect(org=org_a, actor=people["owner"], row=row, kind=K.ROLLBACK_TEST,
                         title="Rollback drill (PDF)",
                         file=SimpleUploadedFile("drill.pdf", PDF,
                                                 content_type="application/pdf"))
    sign(org_a, row, people, SignOff.Role.SECURITY, comment="Data boundary checked")
    from approvals.findings import finding_raise

    finding_raise(org=org_a, kind=Finding.Kind.SPEND_THRESHOLD, dedupe_key=f"{row.pk}:80",
                  title="Spend crossed 80 % of the budget", row=row)
    row.refresh_from_db()
    return row


def build(org, actor, *, row=None, project=None, capture=None) -> EvidencePack:
    """Request a pack and run its task (eager in the test suite) after commit."""
    with capture(execute=True):
        pack = pack_request(org=org, actor=actor, row=row, project=project)
    pack.refresh_from_db()
    return pack


def zip_bytes(pack) -> bytes:
    with pack.file.open("rb") as f:
        return f.read()


def verify(path):
    """Run the command as manage.py does; (exit code, output)."""
    out = io.StringIO()
    try:
        call_command("verify_evidence_pack", str(path), stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue() + str(exc)
    return 0, out.getvalue()


def rewrite(data: bytes, *, change=None, drop=None, add=None) -> bytes:
    """The same ZIP with one file's bytes changed, one file left out, or one added."""
    target = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(target, "w") as out:
        for info in source.infolist():
            body = source.read(info.filename)
            if info.filename == drop:
                continue
            if info.filename == change:
                body = bytes([body[0] ^ 1]) + body[1:]
            out.writestr(info.filename, body)
        if add:
            out.writestr(add, b"not in the manifest")
    return target.getvalue()


# --- The audit extract ------------------------------------------------------------------

def test_the_audit_extract_holds_the_rows_events_with_their_hashes(make_row, org_a, people):
    row = make_row()
    other = make_row(business_reason="Another row")
    link = row_evidence_collect(org=org_a, actor=people["owner"], row=row, kind=K.USAGE_ROW,
                                title="Usage, November", content={"calls": 12})
    counts = Counts(org_a)
    item = row_audit_extract_collect(org=org_a, actor=people["owner"], row=row)
    content = item.content
    actions = [e["action"] for e in content["events"]]
    assert actions == ["approval.created", "evidence.collected", "approval.evidence_attached"]
    assert {e["object_id"] for e in content["events"]} == {str(row.public_id),
                                                           str(link.item.public_id)}
    assert str(other.public_id) not in json.dumps(content)
    seqs = [e["seq"] for e in content["events"]]
    assert seqs == sorted(seqs) and content["range"]["first_seq"] == seqs[0]
    assert content["range"]["last_seq"] == seqs[-1] and content["event_count"] == 3
    stored = {e.public_id: e.hash for e in AuditEvent.objects.for_org(org_a)}
    for event in content["events"]:
        assert event_hash(event) == event["hash"] == stored[uuid.UUID(event["id"])]
    assert content["chain"]["verified"] is True and content["chain"]["problem"] is None
    assert item.kind == K.AUDIT_EXTRACT and item.collector_label == "system"
    assert RowEvidence.objects.filter(row=row, item=item).exists()
    [event] = counts.new_audit()
    assert event.action == "approval.audit_extract_collected"
    assert event.object_id == str(row.public_id) and event.actor_id == people["owner"].user_id
    assert event.changes["events"] == [None, 3]


@pytest.mark.parametrize(("who", "status"), [
    ("owner", 302), ("security", 302), ("admin", 302), ("auditor", 403), ("finance", 403),
    ("requester", 403)])
def test_evidence_owner_security_and_admins_collect_an_extract(client, make_row, people, who,
                                                              status):
    row = make_row()  # the owner persona is the row's evidence owner
    response = login(client, people[who]).post(
        reverse("approvals:row_audit_extract", args=["acme", row.public_id]))
    assert response.status_code == status
    extracts = RowEvidence.objects.filter(row=row, item__kind=K.AUDIT_EXTRACT)
    assert extracts.count() == (1 if status == 302 else 0)


def test_the_row_page_offers_the_extract_and_pack_buttons(client, make_row, people):
    row = make_row()
    page = login(client, people["security"]).get(
        reverse("approvals:row_detail", args=["acme", row.public_id]))
    assert b"Collect audit extract" in page.content
    assert b"Export evidence pack" in page.content
    page = login(client, people["finance"]).get(
        reverse("approvals:row_detail", args=["acme", row.public_id]))
    assert b"Collect audit extract" not in page.content
    assert b"Export evidence pack" not in page.content


# --- The pack and its verification ------------------------------------------------------

def test_the_pack_of_a_row_verifies(rich_row, org_a, people, tmp_path,
                                    django_capture_on_commit_callbacks):
    pack = build(org_a, people["auditor"], row=rich_row,
                 capture=django_capture_on_commit_callbacks)
    assert pack.status == EvidencePack.Status.SUCCEEDED, pack.error
    data = zip_bytes(pack)
    assert hashlib.sha256(data).hexdigest() == pack.sha256 and len(data) == pack.size
    path = tmp_path / "pack.zip"
    path.write_bytes(data)
    code, output = verify(path)
    assert code == 0, output
    assert "OK:" in output

    manifest = json.loads(zipfile.ZipFile(path).read("manifest.json"))
    assert manifest["org"]["slug"] == "acme" and manifest["subject"]["type"] == "row"
    assert manifest["subject"]["id"] == str(rich_row.public_id)
    assert manifest["generated_at"] and manifest["generator"]
    items = {i["id"]: i for i in manifest["items"]}
    attached = RowEvidence.objects.filter(row=rich_row).select_related("item")
    assert set(items) == {str(link.item.public_id) for link in attached}
    pdf = next(i for i in manifest["items"] if i["title"] == "Rollback drill (PDF)")
    assert pdf["sha256"] == hashlib.sha256(PDF).hexdigest() and pdf["source"] == "file"
    assert zipfile.ZipFile(path).read(pdf["path"]) == PDF
    for entry in manifest["items"]:
        assert {"kind", "title", "collector", "collected_at", "valid_until",
                "review_status", "path"} <= set(entry)
    # A content item's file is the canonical JSON its recorded hash was computed over.
    usage = next(i for i in manifest["items"] if i["kind"] == K.USAGE_ROW)
    assert hashlib.sha256(zipfile.ZipFile(path).read(usage["path"])).hexdigest() \
        == usage["sha256"] == EvidenceItem.objects.get(public_id=usage["id"]).sha256
    # The build collected a fresh audit extract of the row, which is in the pack.
    assert [i["kind"] for i in manifest["items"]].count(K.AUDIT_EXTRACT) == 1
    assert [f["path"] for f in manifest["files"]] == ["summary.html"]
    assert manifest["problems"] == []


def test_the_command_exits_non_zero_through_manage_py(rich_row, org_a, people, tmp_path,
                                                      django_capture_on_commit_callbacks):
    pack = build(org_a, people["security"], row=rich_row,
                 capture=django_capture_on_commit_callbacks)
    good, bad = tmp_path / "good.zip", tmp_path / "bad.zip"
    good.write_bytes(zip_bytes(pack))
    bad.write_bytes(rewrite(zip_bytes(pack), change="summary.html"))
    command = VerifyCommand(stdout=io.StringIO(), stderr=io.StringIO())
    command.run_from_argv(["manage.py", "verify_evidence_pack", str(good)])  # no exit
    with pytest.raises(SystemExit) as exc:
        VerifyCommand(stdout=io.StringIO(), stderr=io.StringIO()).run_from_argv(
            ["manage.py", "verify_evidence_pack", str(bad)])
    assert exc.value.code == 1
    not_a_pack = tmp_path / "x.zip"
    not_a_pack.write_bytes(b"plain text")
    assert verify(not_a_pack)[0] == 2


def test_one_changed_byte_in_one_file_is_detected(rich_row, org_a, people, tmp_path,
                                                  django_capture_on_commit_callbacks):
    pack = build(org_a, people["auditor"], row=rich_row,
                 capture=django_capture_on_commit_callbacks)
    data = zip_bytes(pack)
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("manifest.json"))
    pdf = next(i["path"] for i in manifest["items"] if i["title"] == "Rollback drill (PDF)")
    path = tmp_path / "changed.zip"
    path.write_bytes(rewrite(data, change=pdf))
    code, output = verify(path)
    assert code == 1
    assert f"PROBLEM {pdf}: SHA-256 mismatch" in output
    assert output.count("PROBLEM") == 1 and "1 problem(s)" in output


def test_a_missing_or_unlisted_file_is_detected(rich_row, org_a, people, tmp_path,
                                                django_capture_on_commit_callbacks):
    pack = build(org_a, people["auditor"], row=rich_row,
                 capture=django_capture_on_commit_callbacks)
    data = zip_bytes(pack)
    missing, extra = tmp_path / "missing.zip", tmp_path / "extra.zip"
    missing.write_bytes(rewrite(data, drop="summary.html"))
    extra.write_bytes(rewrite(data, add="items/planted.txt"))
    code, output = verify(missing)
    assert code == 1 and "PROBLEM summary.html: missing" in output
    code, output = verify(extra)
    assert code == 1 and "PROBLEM items/planted.txt: not listed in the manifest" in output


def test_an_altered_event_in_the_audit_extract_is_detected(
        rich_row, org_a, people, tmp_path, django_capture_on_commit_callbacks):
    pack = build(org_a, people["auditor"], row=rich_row,
                 capture=django_capture_on_commit_callbacks)
    data = zip_bytes(pack)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        entry = next(i for i in manifest["items"] if i["kind"] == K.AUDIT_EXTRACT)
        extract = json.loads(zf.read(entry["path"]))
    event = extract["content"]["events"][0]
    event["actor_label"] = "someone-else@acme.test"
    body = json.dumps(extract, sort_keys=True, separators=(",", ":")).encode()
    entry["sha256"] = hashlib.sha256(body).hexdigest()  # a forger fixes the manifest too
    target = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(target, "w") as out:
        for name in source.namelist():
            out.writestr(name, {entry["path"]: body,
                                "manifest.json": json.dumps(manifest).encode()}
                         .get(name, source.read(name)))
    path = tmp_path / "forged.zip"
    path.write_bytes(target.getvalue())
    code, output = verify(path)
    assert code == 1
    assert f"{entry['path']}: audit event #{event['seq']} ({event['action']}) does not " \
        "match its hash" in output


def test_a_stored_file_changed_since_collection_fails_verification(
        rich_row, org_a, people, tmp_path, django_capture_on_commit_callbacks):
    item = EvidenceItem.objects.get(title="Rollback drill (PDF)")
    with open(item.file.path, "r+b") as f:
        f.write(b"%PDF-1.7 tampered")
    pack = build(org_a, people["auditor"], row=rich_row,
                 capture=django_capture_on_commit_callbacks)
    path = tmp_path / "pack.zip"
    path.write_bytes(zip_bytes(pack))
    code, output = verify(path)
    assert code == 1 and "SHA-256 mismatch" in output
    assert "no longer matches the SHA-256 recorded at collection" in output


def test_the_summary_names_the_row_its_signoffs_checklist_and_findings(
        rich_row, org_a, people, django_capture_on_commit_callbacks):
    pack = build(org_a, people["auditor"], row=rich_row,
                 capture=django_capture_on_commit_callbacks)
    html = zipfile.ZipFile(io.BytesIO(zip_bytes(pack))).read("summary.html").decode()
    assert rich_row.business_reason in html and str(rich_row.public_id) in html
    assert "support-api in production" in html
    assert "Security" in html and "security@acme.test" in html
    assert "Data boundary checked" in html
    assert "Route smoke test: chat" in html and "Usage row" in html
    assert 'class="state state-pending">pending' in html
    assert "Spend crossed 80 % of the budget" in html
    assert "approval.created" in html and "verified" in html
    # Self-contained: no scripts, stylesheets or images from anywhere.
    assert "<script" not in html and "<link" not in html and "src=" not in html
    assert "http://" not in html and "https://" not in html


def test_a_project_pack_holds_every_row_of_the_project(make_row, org_a, people, project_a,
                                                       tmp_path,
                                                       django_capture_on_commit_callbacks):
    first, second = make_row(), make_row(business_reason="Second app")
    pack = build(org_a, people["admin"], project=project_a,
                 capture=django_capture_on_commit_callbacks)
    path = tmp_path / "project.zip"
    path.write_bytes(zip_bytes(pack))
    assert verify(path)[0] == 0
    manifest = json.loads(zipfile.ZipFile(path).read("manifest.json"))
    assert manifest["subject"] == {"type": "project", "id": str(project_a.public_id),
                                   "name": project_a.name}
    assert {r["id"] for r in manifest["rows"]} == {str(first.public_id),
                                                   str(second.public_id)}
    assert [i["kind"] for i in manifest["items"]].count(K.AUDIT_EXTRACT) == 2


# --- The task ---------------------------------------------------------------------------

def test_the_task_builds_with_progress_and_runs_once(rich_row, org_a, people, monkeypatch):
    with monkeypatch.context() as m:  # request without running the task
        m.setattr(build_evidence_pack_task, "delay", lambda *a: None)
        from django.db import transaction

        with transaction.atomic():
            pack = pack_request(org=org_a, actor=people["auditor"], row=rich_row)
    assert pack.status == EvidencePack.Status.QUEUED
    seen = []
    from approvals.packs import build as build_module

    real = build_module._progress

    def spy(packs, phase, done, total):
        real(packs, phase, done, total)
        seen.append((phase, done, total))
    monkeypatch.setattr(build_module, "_progress", spy)
    assert build_evidence_pack_task(org_a.pk, pack.pk) == "succeeded"
    phases = [p for p, _, _ in seen]
    assert phases[0] == "collecting audit extracts" and "adding evidence files" in phases
    assert [d for _, d, _ in seen] == sorted(d for _, d, _ in seen)
    pack.refresh_from_db()
    assert pack.progress == pack.total > 0 and pack.percent == 100
    # A second delivery (acks_late) finds it claimed and does nothing.
    assert build_evidence_pack_task(org_a.pk, pack.pk) is None
    assert RowEvidence.objects.filter(row=rich_row, item__kind=K.AUDIT_EXTRACT).count() == 1
    actions = list(AuditEvent.objects.for_org(org_a).filter(object_id=str(pack.public_id))
                   .order_by("seq").values_list("action", flat=True))
    assert actions == ["approval.pack_requested", "approval.pack_built"]


def test_an_interrupted_build_reuses_its_audit_extracts(rich_row, org_a, people):
    from django.db import transaction

    with transaction.atomic():
        pack = EvidencePack.objects.create(org=org_a, row=rich_row,
                                           requested_by=people["auditor"])
    item = row_audit_extract_collect(org=org_a, actor=None, row=rich_row, pack=pack)
    EvidencePack.objects.filter(pk=pack.pk).update(
        extracts={str(rich_row.public_id): str(item.public_id)})
    assert pack_build(org=org_a, pack_id=pack.pk).status == EvidencePack.Status.SUCCEEDED
    assert RowEvidence.objects.filter(row=rich_row, item__kind=K.AUDIT_EXTRACT).count() == 1


def test_a_failing_build_says_why(rich_row, org_a, people, monkeypatch):
    from django.db import transaction

    from approvals.packs import archive

    with transaction.atomic():
        pack = EvidencePack.objects.create(org=org_a, row=rich_row,
                                           requested_by=people["auditor"])

    def broken(**kwargs):
        raise RuntimeError("storage is full")
    monkeypatch.setattr(archive, "summary_html", broken)
    pack = pack_build(org=org_a, pack_id=pack.pk)
    assert pack.status == EvidencePack.Status.FAILED and "storage is full" in pack.error


# --- Who exports and downloads ----------------------------------------------------------

@pytest.mark.parametrize(("who", "status"), [
    ("auditor", 302), ("security", 302), ("admin", 302), ("owner", 302), ("finance", 403),
    ("requester", 403), ("app_owner", 403)])
def test_who_exports_the_pack_of_a_row(client, make_row, people, who, status,
                                       django_capture_on_commit_callbacks):
    row = make_row()
    with django_capture_on_commit_callbacks(execute=True):
        response = login(client, people[who]).post(
            reverse("approvals:pack_create", args=["acme"]), {"row": str(row.public_id)})
    assert response.status_code == status
    assert EvidencePack.objects.count() == (1 if status == 302 else 0)
    if status == 302:
        pack = EvidencePack.objects.get()
        assert response["Location"] == reverse("approvals:pack_detail",
                                               args=["acme", pack.public_id])
        page = client.get(response["Location"])
        assert b"Download the pack" in page.content and pack.sha256.encode() in page.content
        fragment = client.get(response["Location"], headers={"HX-Request": "true"})
        assert fragment.content.lstrip().startswith(b'<section id="pack-progress"')


def test_auditors_download_and_others_do_not(client, rich_row, org_a, people,
                                             django_capture_on_commit_callbacks):
    pack = build(org_a, people["owner"], row=rich_row,
                 capture=django_capture_on_commit_callbacks)
    url = reverse("approvals:pack_download", args=["acme", pack.public_id])
    response = login(client, people["auditor"]).get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    assert hashlib.sha256(b"".join(response.streaming_content)).hexdigest() == pack.sha256
    assert login(client, people["finance"]).get(url).status_code == 403
    assert login(client, people["owner"]).get(url).status_code == 200  # its requester


def test_a_foreign_pack_is_404(client, rich_row, org_a, people, outsider,
                               django_capture_on_commit_callbacks):
    pack = build(org_a, people["auditor"], row=rich_row,
                 capture=django_capture_on_commit_callbacks)
    login(client, outsider)
    for name in ("pack_detail", "pack_download"):
        assert client.get(reverse(f"approvals:{name}", args=["acme", pack.public_id])
                          ).status_code == 404
        assert client.get(reverse(f"approvals:{name}", args=["globex", pack.public_id])
                          ).status_code == 404


def test_the_project_page_loads_the_export_button(client, project_a, people):
    login(client, people["auditor"])
    page = client.get(reverse("projects:project_detail", args=["acme", project_a.public_id]))
    button = reverse("approvals:pack_button", args=["acme"])
    assert f'{button}?project={project_a.public_id}'.encode() in page.content
    fragment = client.get(button, {"project": str(project_a.public_id)},
                          headers={"HX-Request": "true"})
    assert b"Export evidence pack" in fragment.content
    login(client, people["requester"])
    fragment = client.get(button, {"project": str(project_a.public_id)})
    assert b"Export evidence pack" not in fragment.content
    confirm = login(client, people["auditor"]).get(
        reverse("approvals:pack_create", args=["acme"]), {"project": str(project_a.public_id)})
    assert confirm.status_code == 200 and b"Every row of project" in confirm.content


# --- The list -------------------------------------------------------------------------

# session, user, membership + org, unread count, the org switcher; the packs with their
# row, project and requester (one joined query).
PACK_LIST_QUERIES = 5


@pytest.mark.parametrize("n", [3, 40])
def test_pack_list_queries_do_not_grow(client, make_row, org_a, people, n,
                                       django_assert_num_queries):
    row = make_row()
    EvidencePack.objects.bulk_create([
        EvidencePack(org=org_a, row=row if i % 2 else None,
                     project=None if i % 2 else row.project,
                     requested_by=people["auditor"], requested_by_label="auditor@acme.test")
        for i in range(n)])
    login(client, people["auditor"])
    url = reverse("approvals:pack_list", args=["acme"])
    client.get(url)
    with django_assert_num_queries(PACK_LIST_QUERIES):
        response = client.get(url)
    assert len(response.context["packs"]) == n
    assert b"support-api in production" in response.content


def test_members_see_only_the_packs_they_requested(client, make_row, org_a, people):
    row = make_row()
    mine = MembershipFactory(org=org_a, role=Role.MEMBER, user__email="evidence@acme.test")
    PolicyRow.objects.filter(pk=row.pk).update(evidence_owner=mine)
    EvidencePack.objects.create(org=org_a, row=row, requested_by=mine)
    EvidencePack.objects.create(org=org_a, row=row, requested_by=people["auditor"])
    response = login(client, mine).get(reverse("approvals:pack_list", args=["acme"]))
    assert [p.requested_by_id for p in response.context["packs"]] == [mine.pk]
    assert len(login(client, people["security"]).get(
        reverse("approvals:pack_list", args=["acme"])).context["packs"]) == 2
