"""Usage pages: who may import, the upload form's field errors, the import page with its
htmx progress and report, the usage list's filters, and pinned query counts."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from evidence.models import UsageImport, UsageRecord
from evidence.usage import services
from orgs.audit import AuditEvent
from orgs.roles import Role
from tests.conftest import ROLES, login
from tests.evidence.usage_helpers import example, run_import

pytestmark = pytest.mark.django_db
IMPORTERS = (Role.OWNER, Role.ADMIN, Role.FINANCE)


def url(name, org, *args):
    return reverse(f"evidence:{name}", args=[org.slug, *args])


def upload(name, data=None):
    return SimpleUploadedFile(name, example(name) if data is None else data)


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_usage_and_only_admins_owners_and_finance_import(
        client, personas, org_a, role):
    login(client, personas[role])
    page = client.get(url("usage_list", org_a))
    assert page.status_code == 200 and b">Usage</a>" in page.content  # in the org nav
    assert (b"Import a file" in page.content) == (role in IMPORTERS)
    assert client.get(url("usage_upload", org_a)).status_code == (
        200 if role in IMPORTERS else 403)


def test_outsider_gets_404(client, outsider, org_a):
    login(client, outsider)
    assert client.get(url("usage_list", org_a)).status_code == 404


def test_upload_runs_the_import_and_shows_the_counts(client, personas, org_a,
                                                     django_capture_on_commit_callbacks):
    login(client, personas[Role.FINANCE])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("usage_upload", org_a), {
            "kind": "usage", "source": "litellm", "file": upload("litellm-spendlogs.csv")})
    job = UsageImport.objects.for_org(org_a).get()
    assert response.status_code == 302 and response.url == url("usage_import", org_a,
                                                               job.public_id)
    assert job.status == "succeeded" and job.payload is None
    page = client.get(response.url)
    assert b"2 lines added" in page.content and b"Imported" in page.content
    fragment = client.get(response.url, headers={"HX-Request": "true"})
    assert fragment.content.lstrip().startswith(b'<section id="import-progress"')
    assert b"hx-trigger" not in fragment.content  # done: polling stops
    assert AuditEvent.objects.for_org(org_a).filter(
        action__in=["usage.import_queued", "usage.imported"]).count() == 2


def test_a_queued_import_polls_its_progress(client, owner, org_a):
    login(client, owner)
    job = UsageImport.objects.create(org=org_a, kind="usage", source="api", source_ref="x.csv",
                                     status="running", phase="checking", progress=50,
                                     total=200)
    fragment = client.get(url("usage_import", org_a, job.public_id),
                          headers={"HX-Request": "true"})
    assert b'hx-trigger="every 1s"' in fragment.content
    assert b"checking every line" in fragment.content and b'aria-valuenow="25"' in fragment.content


def test_a_bad_file_lists_every_bad_line_and_writes_nothing(client, owner, org_a,
                                                           django_capture_on_commit_callbacks):
    login(client, owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("usage_upload", org_a), {
            "kind": "usage", "source": "litellm", "file": upload("litellm-bad.csv")})
    page = client.get(response.url)
    assert b"Nothing was imported." in page.content
    for field in (b"request_id", b"spend", b"prompt_tokens", b"startTime"):
        assert b'<td class="app-mono">' + field + b"</td>" in page.content
    assert not UsageRecord.objects.for_org(org_a).exists()


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"kind": "usage", "source": "litellm"}, "file", b"This field is required"),
    ({"kind": "billing", "source": "litellm"}, "source", b"has no billing export"),
    ({"kind": "usage", "source": "nope"}, "source", b"Select a valid choice"),
])
def test_upload_form_shows_clear_field_errors(client, owner, org_a, data, field, message):
    login(client, owner)
    if field != "file":
        data = {**data, "file": upload("generic-usage.csv")}
    response = client.post(url("usage_upload", org_a), data)
    assert response.status_code == 400
    assert message in response.content and f'id="id_{field}_error"'.encode() in response.content
    assert not UsageImport.objects.for_org(org_a).exists()


def test_an_upload_over_the_limit_is_refused(client, owner, org_a, monkeypatch):
    monkeypatch.setattr(services, "MAX_UPLOAD_BYTES", 10)
    login(client, owner)
    response = client.post(url("usage_upload", org_a), {
        "kind": "usage", "source": "api", "file": upload("generic-usage.csv")})
    assert response.status_code == 400 and b"larger than" in response.content


def test_usage_list_filters_by_project_model_and_source(client, owner, org_a, project_a):
    login(client, owner)
    run_import(org_a, owner, example("generic-usage.csv"))
    run_import(org_a, owner, example("litellm-spendlogs.json"), source="litellm")
    page = client.get(url("usage_list", org_a))
    assert page.context["page"].paginator.count == 4
    assert client.get(url("usage_list", org_a), {"source": "litellm"}).context[
        "page"].paginator.count == 2
    assert client.get(url("usage_list", org_a), {"model": "embedding"}).context[
        "page"].paginator.count == 1
    by_project = client.get(url("usage_list", org_a), {"project": str(project_a.public_id)})
    assert by_project.context["page"].paginator.count == 3
    assert b"ghost-team?" in page.content  # unresolved refs are shown as such


def test_usage_list_query_count_does_not_grow_with_rows(client, owner, org_a,
                                                        django_assert_num_queries):
    login(client, owner)
    run_import(org_a, owner, example("generic-usage.csv"))
    # session, user, membership+org, org switcher, recent imports, record count, page, the
    # project select's choices: 8.
    with django_assert_num_queries(8):
        assert client.get(url("usage_list", org_a)).status_code == 200
    run_import(org_a, owner, example("litellm-spendlogs.json"), source="litellm")
    lines = "".join(f"l{n},2026-11-02T00:00:00Z,gpt-test,,,,support-bot,,,1,1,1,0.1\n"
                    for n in range(60))
    run_import(org_a, owner, b"id,occurred_at,model,provider,action,api_key,project,"
               b"environment,caller,requests,input_tokens,output_tokens,cost_usd\n"
               + lines.encode())
    with django_assert_num_queries(8):
        response = client.get(url("usage_list", org_a))
    assert len(response.context["page"].object_list) == 50
