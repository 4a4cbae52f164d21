"""Catalog pages: who may see what, the import flow (tasks eager), diff page, and pinned
query counts."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from evidence.catalog import catalog_import
from evidence.models import CatalogSnapshot, ImportJob
from orgs.audit import AuditEvent
from orgs.roles import Role
from tests.conftest import ROLES, login
from tests.evidence.conftest import SLICE_NEW

pytestmark = pytest.mark.django_db

HEADER = ("vendor,platform,model_id,families,availability,input_price_per_mtok,"
          "output_price_per_mtok,context_window,deprecation_date\n")


def generic_snapshot(org, rows: int, name="cat"):
    body = "".join(f"acme,acme-cloud,model-{i:03},chat_completions,available,{i},{2 * i},"
                   f"{1000 * i},\n" for i in range(rows))
    return catalog_import(org=org, actor=None, data=(HEADER + body).encode(),
                          format="generic", source_ref=f"{name}.csv", source_name=name)


def url(name, org, *args):
    return reverse(f"evidence:{name}", args=[org.slug, *args])


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_the_catalog_pages(client, personas, org_a, slice_old, slice_new,
                                            role):
    login(client, personas[role])
    entry = slice_new.entries.get(key="gpt-4o")
    for page in (url("catalog_list", org_a), url("snapshot_list", org_a),
                 url("snapshot_detail", org_a, slice_new.public_id),
                 url("model_detail", org_a, entry.public_id),
                 url("snapshot_diff", org_a) + f"?old={slice_old.public_id}"
                 f"&new={slice_new.public_id}"):
        assert client.get(page).status_code == 200, page


@pytest.mark.parametrize("role", ROLES)
def test_only_admins_and_owners_may_import(client, personas, org_a, role):
    login(client, personas[role])
    allowed = role in (Role.OWNER, Role.ADMIN)
    assert client.get(url("snapshot_import", org_a)).status_code == (200 if allowed else 403)


def test_outsider_gets_404(client, outsider, org_a, slice_new):
    login(client, outsider)
    assert client.get(url("catalog_list", org_a)).status_code == 404
    assert client.get(url("snapshot_detail", org_a, slice_new.public_id)).status_code == 404


def test_another_orgs_snapshot_is_404(client, owner, org_a, slice_b):
    login(client, owner)
    assert client.get(url("snapshot_detail", org_a, slice_b.public_id)).status_code == 404
    entry = slice_b.entries.first()
    assert client.get(url("model_detail", org_a, entry.public_id)).status_code == 404


def test_search_filters_and_sorts(client, owner, org_a, slice_new):
    login(client, owner)
    response = client.get(url("catalog_list", org_a), {"q": "gpt-4o", "platform": "azure",
                                                        "sort": "-input_price"})
    keys = [e.key for e in response.context["page"]]
    assert keys and all("gpt-4o" in k and k.startswith("azure/") for k in keys)
    prices = [e.input_price for e in response.context["page"]]
    assert prices == sorted(prices, reverse=True)
    embeddings = client.get(url("catalog_list", org_a), {"family": "embeddings"})
    assert {e.family for e in embeddings.context["page"]} == {"embeddings"}
    bad = client.get(url("catalog_list", org_a), {"price_min": "-1", "context_min": "x"})
    assert bad.status_code == 400 and set(bad.context["form"].errors) == {"price_min",
                                                                         "context_min"}


def test_upload_runs_the_import_and_shows_the_result(client, owner, org_a,
                                                     django_capture_on_commit_callbacks):
    login(client, owner)
    upload = SimpleUploadedFile(SLICE_NEW.name, SLICE_NEW.read_bytes())
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("snapshot_import", org_a), {"format": "litellm",
                                                               "file": upload})
    job = ImportJob.objects.for_org(org_a).get()
    assert response.status_code == 302 and response.url == url("import_job", org_a,
                                                               job.public_id)
    assert job.status == "succeeded" and job.payload is None
    page = client.get(response.url)
    assert b"Imported" in page.content and job.snapshot.entry_count > 0
    # htmx polls the fragment only.
    fragment = client.get(response.url, headers={"HX-Request": "true"})
    assert fragment.content.lstrip().startswith(b'<section id="import-progress"')
    assert AuditEvent.objects.for_org(org_a).filter(
        action__in=["catalog.import_queued", "catalog.imported"]).count() == 2


def test_reupload_shows_the_polite_refusal(client, owner, org_a, slice_new,
                                           django_capture_on_commit_callbacks):
    login(client, owner)
    upload = SimpleUploadedFile(SLICE_NEW.name, SLICE_NEW.read_bytes())
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("snapshot_import", org_a), {"format": "litellm",
                                                               "file": upload})
    page = client.get(response.url)
    assert b"Nothing was imported." in page.content and b"already imported" in page.content
    assert CatalogSnapshot.objects.for_org(org_a).count() == 1


def test_an_empty_upload_is_a_field_error(client, owner, org_a):
    login(client, owner)
    upload = SimpleUploadedFile("empty.json", b"")
    response = client.post(url("snapshot_import", org_a), {"format": "litellm",
                                                           "file": upload})
    assert response.status_code == 400 and response.context["form"].errors["file"]
    assert not ImportJob.objects.for_org(org_a).exists()


def test_diff_page_lists_changes_by_kind(client, owner, org_a, slice_old, slice_new):
    login(client, owner)
    response = client.get(url("snapshot_diff", org_a), {"old": slice_old.public_id,
                                                        "new": slice_new.public_id,
                                                        "change": "added"})
    assert response.status_code == 200
    assert {c["change"] for c in response.context["page"]} == {"added"}


def test_catalog_list_query_count_does_not_grow_with_rows(client, owner, org_a,
                                                          django_assert_num_queries):
    login(client, owner)
    generic_snapshot(org_a, 3, "small")
    # session, user, membership+org, org switcher, snapshot list, platform filter choices
    # are from the snapshot row; then the entry count and the page, and the snapshot
    # select's choices when the form renders: 8.
    with django_assert_num_queries(8):
        assert client.get(url("catalog_list", org_a)).status_code == 200
    generic_snapshot(org_a, 50, "large")
    with django_assert_num_queries(8):
        response = client.get(url("catalog_list", org_a), {"q": "model", "sort": "context"})
    assert response.context["page"].paginator.count == 50


def test_model_page_query_count(client, owner, org_a, django_assert_num_queries):
    login(client, owner)
    for n in range(3):
        generic_snapshot(org_a, 5 + n, "src")
    entry = CatalogSnapshot.objects.for_org(org_a).first().entries.get(model_id="model-001")
    # session, user, membership+org, org switcher, the entry with its snapshot, the
    # history with each snapshot: 6, however many snapshots hold the model.
    with django_assert_num_queries(6):
        response = client.get(url("model_detail", org_a, entry.public_id))
    assert len(response.context["history"]) == 3


def test_a_bad_file_shows_every_bad_entry_and_writes_nothing(client, owner, org_a,
                                                             django_capture_on_commit_callbacks):
    login(client, owner)
    bad = (b'{"gpt-4o": {"litellm_provider": "openai", "mode": "chat", '
           b'"input_cost_per_token": -1}, "o3": {"litellm_provider": "openai", '
           b'"mode": "chat", "max_input_tokens": "lots"}}')
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("snapshot_import", org_a), {
            "format": "litellm", "file": SimpleUploadedFile("bad.json", bad)})
    page = client.get(response.url).content.decode()
    assert "Nothing was imported." in page and "2 entries are invalid" in page
    assert "gpt-4o" in page and "o3" in page and "negative" in page
    assert not CatalogSnapshot.objects.for_org(org_a).exists()
