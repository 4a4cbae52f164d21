"""Catalog API: snapshots, entry search, model history, diff, imports; roles and tenancy."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from evidence.models import ImportJob
from orgs.roles import Role
from tests.conftest import ROLES, login
from tests.evidence.conftest import SLICE_NEW
from tests.evidence.test_views import generic_snapshot

pytestmark = pytest.mark.django_db

BASE = "/api/v1/o/acme/catalog/"


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_and_only_admins_import(client, personas, org_a, slice_new, role,
                                                 django_capture_on_commit_callbacks,
                                                 loopback_allowed):
    login(client, personas[role])
    assert client.get(BASE + "snapshots/").status_code == 200
    assert client.get(BASE + f"snapshots/{slice_new.public_id}/").status_code == 200
    data = {"format": "litellm", "url": "http://127.0.0.1:9/none.json"}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(BASE + "snapshots/", data, content_type="application/json")
    assert response.status_code == (202 if role in (Role.OWNER, Role.ADMIN) else 403)


def test_outsider_gets_404(client, outsider, slice_new):
    login(client, outsider)
    assert client.get(BASE + "snapshots/").status_code == 404
    assert client.get(BASE + f"snapshots/{slice_new.public_id}/").status_code == 404


def test_entries_search_uses_the_page_filters(client, owner, slice_new):
    login(client, owner)
    response = client.get(BASE + "entries/", {"q": "gpt-4o", "platform": "azure",
                                              "page_size": 2})
    body = response.json()
    assert body["count"] >= 2 and len(body["results"]) == 2
    assert all(r["platform"] == "azure" for r in body["results"])
    assert "chat" in body["results"][0]["actions"]
    bad = client.get(BASE + "entries/", {"family": "teleport", "price_min": "-3"})
    assert bad.status_code == 400 and set(bad.json()) == {"family", "price_min"}


def test_model_detail_has_the_history(client, owner, slice_old, slice_new):
    login(client, owner)
    entry = slice_new.entries.get(key="gpt-4o")
    body = client.get(BASE + f"models/{entry.public_id}/").json()
    assert body["entry"]["key"] == "gpt-4o"
    assert [h["snapshot"] for h in body["history"]] == [str(slice_old.public_id),
                                                       str(slice_new.public_id)]


def test_diff_endpoint(client, owner, slice_old, slice_new):
    login(client, owner)
    body = client.get(BASE + "diff/", {"old": slice_old.public_id,
                                       "new": slice_new.public_id}).json()
    assert body["counts"]["added"] == len([c for c in body["changes"]
                                           if c["change"] == "added"])
    assert client.get(BASE + "diff/", {"old": "nope"}).status_code == 400


def test_diff_of_another_orgs_snapshot_is_refused(client, owner, slice_new, slice_b):
    login(client, owner)
    response = client.get(BASE + "diff/", {"old": slice_b.public_id,
                                           "new": slice_new.public_id})
    assert response.status_code == 400 and "old" in response.json()


def test_upload_returns_a_job_to_poll(client, owner, org_a, django_capture_on_commit_callbacks):
    login(client, owner)
    upload = SimpleUploadedFile(SLICE_NEW.name, SLICE_NEW.read_bytes())
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(BASE + "snapshots/", {"format": "litellm", "file": upload})
    assert response.status_code == 202
    job = client.get(BASE + f"imports/{response.json()['id']}/").json()
    assert job["status"] == "succeeded" and job["snapshot"]
    assert job["report"]["entry_count"] > 0


def test_an_import_request_without_file_or_url_is_400(client, owner, org_a):
    login(client, owner)
    response = client.post(BASE + "snapshots/", {"format": "litellm"},
                           content_type="application/json")
    assert response.status_code == 400
    assert not ImportJob.objects.for_org(org_a).exists()


def test_entries_list_query_count(client, owner, org_a, django_assert_num_queries):
    login(client, owner)
    generic_snapshot(org_a, 3, "small")
    generic_snapshot(org_a, 50, "large")
    # session, user, membership+org, newest snapshot, count, page: 6.
    with django_assert_num_queries(6):
        response = client.get(BASE + "entries/", {"page_size": 50})
    assert len(response.json()["results"]) == 50
