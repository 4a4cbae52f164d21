"""Evidence pages of a row: attach (multipart), review, download; personas, own and other
org, field errors that save nothing, and the section's constant query count. Plus the
org-wide evidence list."""

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from approvals.checklist import row_evidence_context
from approvals.models import PolicyRow, RowEvidence
from approvals.selectors import row_get
from approvals.services.evidence import row_evidence_collect
from evidence.models import EvidenceItem
from orgs.roles import Role
from tests.approvals.conftest import attach_required_evidence
from tests.conftest import login

S = PolicyRow.Status
K = EvidenceItem.Kind


def url(name, row, *item, slug="acme"):
    return reverse(f"approvals:{name}", args=[slug, row.public_id, *[i.public_id for i in item]])


def collect(row, actor, **fields):
    fields = {"kind": K.USAGE_ROW, "title": "Usage", "content": {"n": 1}} | fields
    return row_evidence_collect(org=row.org, actor=actor, row=row, **fields).item


def usage_form(**extra):
    return {"kind": K.USAGE_ROW, "title": "Usage, November", "content": '{"calls": 12}',
            **extra}


# --- attach ---------------------------------------------------------------------------

@pytest.mark.parametrize(("who", "status"), [
    ("owner", 302), ("app_owner", 302), ("requester", 302), ("admin", 302),
    ("security", 403), ("finance", 403), ("auditor", 403)])
def test_row_owners_requester_and_platform_attach_evidence(client, make_row, people, who,
                                                           status):
    row = make_row()
    response = login(client, people[who]).post(url("row_evidence_attach", row), usage_form())
    assert response.status_code == status
    assert RowEvidence.objects.filter(row=row).count() == (1 if status == 302 else 0)
    if status == 302:
        assert response["Location"] == url("row_detail", row)


def test_outsider_gets_404_on_attach(client, make_row, outsider):
    row = make_row()
    response = login(client, outsider).post(url("row_evidence_attach", row), usage_form())
    assert response.status_code == 404
    assert not EvidenceItem.objects.exists()


def test_nobody_attaches_to_a_revoked_row(client, make_row, people):
    row = make_row(S.REVOKED)
    response = login(client, people["admin"]).post(url("row_evidence_attach", row), usage_form())
    assert response.status_code == 403


def test_a_file_upload_is_hashed_and_attached(client, make_row, people):
    row = make_row()
    data = b"%PDF-1.7 rollback drill"
    form = {"kind": K.ROLLBACK_TEST, "title": "Rollback drill",
            "file": SimpleUploadedFile("drill.pdf", data, content_type="application/pdf")}
    response = login(client, people["owner"]).post(url("row_evidence_attach", row), form)
    assert response.status_code == 302
    item = RowEvidence.objects.get(row=row).item
    assert item.sha256 == hashlib.sha256(data).hexdigest() and item.file_name == "drill.pdf"


def test_a_smoke_test_from_the_form_records_passed(client, make_row, people):
    row = make_row()
    form = {"kind": K.SMOKE_TEST, "title": "Chat", "action": "chat", "passed": "on",
            "content": '{"status": 200}'}
    login(client, people["owner"]).post(url("row_evidence_attach", row), form)
    item = RowEvidence.objects.get(row=row).item
    assert item.content == {"status": 200, "passed": True} and item.action == "chat"


@pytest.mark.parametrize(("form", "field", "message"), [
    ({"kind": K.USAGE_ROW, "title": "Usage"}, "file", "Attach a file"),
    (usage_form(content="{not json"), "content", "not valid JSON"),
    (usage_form(content="[1, 2]"), "content", "JSON object"),
    (usage_form(action="teleport"), "action", "Select a valid choice"),
    ({"kind": K.USAGE_ROW, "title": "Usage",
      "file": SimpleUploadedFile("x.exe", b"MZ", "application/octet-stream")}, "file",
     "not accepted"),
])
def test_bad_input_is_a_field_error_and_saves_nothing(client, make_row, people, form, field,
                                                      message):
    row = make_row()
    response = login(client, people["owner"]).post(url("row_evidence_attach", row), form)
    assert response.status_code == 400
    assert message in " ".join(response.context["evidence_form"].errors[field])
    assert not EvidenceItem.objects.exists()
    assert b"Blocks approval" in response.content  # the section, on its own page


def test_an_oversized_upload_is_refused(client, make_row, people, settings):
    settings.EVIDENCE_MAX_UPLOAD_BYTES = 5
    row = make_row()
    form = {"kind": K.USAGE_ROW, "title": "Usage",
            "file": SimpleUploadedFile("u.csv", b"a,b\n1,2\n", "text/csv")}
    response = login(client, people["owner"]).post(url("row_evidence_attach", row), form)
    assert response.status_code == 400
    assert "the limit is 5 bytes" in response.context["evidence_form"].errors["file"][0]
    assert not EvidenceItem.objects.exists()


def test_htmx_gets_the_section_fragment_with_errors(client, make_row, people):
    row = make_row()
    response = login(client, people["owner"]).post(
        url("row_evidence_attach", row), {"kind": K.USAGE_ROW, "title": "Usage"},
        HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    content = response.content.decode()
    assert content.lstrip().startswith("<section") and 'id="row-evidence"' in content


def test_htmx_success_answers_hx_location(client, make_row, people):
    row = make_row()
    response = login(client, people["owner"]).post(url("row_evidence_attach", row),
                                                   usage_form(), HTTP_HX_REQUEST="true")
    assert url("row_detail", row) in response["HX-Location"]


# --- review ---------------------------------------------------------------------------

@pytest.mark.parametrize(("who", "status"), [
    ("security", 302), ("finance", 302), ("admin", 302), ("requester", 403),
    ("app_owner", 403), ("auditor", 403), ("owner", 403)])  # owner collected it
def test_platform_security_and_finance_review_evidence_they_did_not_collect(
        client, make_row, people, who, status):
    row = make_row()
    item = collect(row, people["owner"])
    response = login(client, people[who]).post(url("row_evidence_review", row, item),
                                               {"decision": "accepted"})
    assert response.status_code == status
    item.refresh_from_db()
    assert item.review_status == ("accepted" if status == 302 else "pending")


def test_rejecting_without_a_comment_is_refused_on_the_page(client, make_row, people):
    row = make_row()
    item = collect(row, people["owner"])
    response = login(client, people["security"]).post(url("row_evidence_review", row, item),
                                                      {"decision": "rejected"})
    assert response.status_code == 400
    assert "Say why you reject it" in response.content.decode()
    item.refresh_from_db()
    assert item.review_status == "pending"


def test_outsider_gets_404_on_review(client, make_row, people, outsider):
    row = make_row()
    item = collect(row, people["owner"])
    response = login(client, outsider).post(url("row_evidence_review", row, item),
                                            {"decision": "accepted"})
    assert response.status_code == 404


def test_an_item_is_reviewed_only_through_a_row_it_is_attached_to(client, make_row, people):
    row, other = make_row(), make_row()
    item = collect(other, people["owner"])
    response = login(client, people["security"]).post(url("row_evidence_review", row, item),
                                                      {"decision": "accepted"})
    assert response.status_code == 404


# --- download -------------------------------------------------------------------------

def _file_item(row, people, data=b"<script>alert(1)</script>"):
    return collect(row, people["owner"], kind=K.LOGGING_SCOPE, content=None,
                   file=SimpleUploadedFile("scope.html", data, content_type="text/html"))


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.MEMBER, Role.FINANCE])
def test_every_role_downloads_as_an_attachment_that_never_renders(client, make_row, people,
                                                                  personas, role):
    row = make_row()
    item = _file_item(row, people)
    response = login(client, personas[role]).get(url("evidence_download", row, item))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert b"".join(response.streaming_content) == b"<script>alert(1)</script>"


def test_outsider_gets_404_on_download(client, make_row, people, outsider):
    row = make_row()
    item = _file_item(row, people)
    assert login(client, outsider).get(url("evidence_download", row, item)).status_code == 404


def test_an_item_without_a_file_has_no_download(client, make_row, people):
    row = make_row()
    item = collect(row, people["owner"])
    assert login(client, people["owner"]).get(url("evidence_download", row, item)) \
        .status_code == 404


# --- the section's context --------------------------------------------------------------

@pytest.mark.parametrize("extra", [0, 6])
def test_section_context_is_one_query_whatever_the_item_count(
        make_row, people, org_a, extra, django_assert_num_queries):
    row = make_row()
    attach_required_evidence(row, people)
    for n in range(extra):
        collect(row, people["owner"], title=f"extra {n}")
    row = row_get(org=org_a, public_id=row.public_id)
    with django_assert_num_queries(1):  # the row's links with their items
        context = row_evidence_context(row=row, actor=people["security"])
    assert len(context["evidence_checklist"].items) == 10 + extra
    assert context["can_attach_evidence"] is False
    assert all(item.can_review for item in context["evidence_checklist"].items)


def test_section_tells_a_non_production_row_nothing_is_required(client, make_row, people,
                                                                project_a):
    row = make_row(environment=project_a.environments.get(tier="staging"), renewal_date=None,
                   renewal_triggers=[])
    response = login(client, people["owner"]).post(url("row_evidence_attach", row),
                                                   {"kind": K.USAGE_ROW})
    assert "No evidence is required by default outside production" in response.content.decode()


# --- the org-wide list ------------------------------------------------------------------

def list_url(slug="acme", **query):
    from urllib.parse import urlencode

    base = reverse("evidence:item_list", args=[slug])
    return f"{base}?{urlencode(query)}" if query else base


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_every_role_reads_the_evidence_list(client, personas, role):
    assert login(client, personas[role]).get(list_url()).status_code == 200


def test_outsider_gets_404_on_the_evidence_list(client, personas, outsider):
    assert login(client, outsider).get(list_url()).status_code == 404


def test_evidence_list_filters_by_kind_and_state(client, make_row, people, org_a):
    row = make_row()
    usage = collect(row, people["owner"])
    billing = collect(row, people["owner"], kind=K.BILLING_ROW, title="Billing")
    EvidenceItem.objects.filter(pk=billing.pk).update(valid_until="2020-01-01")
    client = login(client, people["auditor"])
    page = client.get(list_url(kind=K.USAGE_ROW)).context["page"]
    assert list(page.object_list) == [usage]
    page = client.get(list_url(state="expired")).context["page"]
    assert list(page.object_list) == [billing]
    page = client.get(list_url(state="pending")).context["page"]
    assert list(page.object_list) == [usage]
    assert "expired" in client.get(list_url()).content.decode()


@pytest.mark.parametrize("count", [1, 8])
def test_evidence_list_query_count_is_constant(client, make_row, people, count,
                                               django_assert_num_queries):
    row = make_row()
    for n in range(count):
        collect(row, people["owner"], title=f"item {n}")
    client = login(client, people["auditor"])
    client.get(list_url())  # warm the session
    # session, user, membership with unread count, nav memberships, count, page
    with django_assert_num_queries(6):
        client.get(list_url())
