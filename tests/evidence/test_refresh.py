"""The scheduled catalog refresh: settings, the daily task over a catalog served on
127.0.0.1, the quiet no-op of an unchanged file, failures told to admins once, and the
catalog-change findings its import raises."""

import functools
import http.server
import shutil
import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command

from evidence.models import CatalogRefresh, CatalogSnapshot, ImportJob
from evidence.refresh import catalog_refresh_run, catalog_refresh_update
from evidence.tasks import catalog_refresh_for_org_task, catalog_refresh_task
from orgs.audit import AuditEvent
from orgs.events import NotificationEvent
from orgs.jobs import JobRun
from tests.conftest import login
from tests.evidence.conftest import SLICE_NEW

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("public_dns")]
URL = "/o/acme/catalog/refresh/"


@pytest.fixture
def served(tmp_path, loopback_allowed):
    """A folder served on 127.0.0.1 (a free port) from a thread: (base URL, folder)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    server.shutdown()
    server.server_close()


def publish(folder, source, name="catalog.json"):
    shutil.copy(source, folder / name)


def configure(org, actor, url, **fields):
    return catalog_refresh_update(org=org, actor=actor, url=url, format="litellm",
                                  source_name="", **fields)


def failures_told(org):
    return NotificationEvent.objects.for_org(org).filter(kind="catalog.refresh_failed").count()


def test_the_daily_task_imports_the_configured_url_as_the_system(org_a, org_b, owner, served):
    base, folder = served
    publish(folder, SLICE_NEW)
    configure(org_a, owner, f"{base}/catalog.json")
    assert catalog_refresh_task() == 1  # org B has no refresh: no task for it
    [snapshot] = CatalogSnapshot.objects.for_org(org_a)
    assert snapshot.imported_by_id is None and snapshot.source_ref == f"{base}/catalog.json"
    job = ImportJob.objects.for_org(org_a).get()
    assert (job.status, job.created_by, job.snapshot) == ("succeeded", None, snapshot)
    refresh = CatalogRefresh.objects.for_org(org_a).get()
    assert (refresh.last_outcome, refresh.last_job, refresh.claimed_at) == ("imported", job, None)
    run = JobRun.objects.get(task="evidence.catalog_refresh_for_org")
    assert run.outcome == "ok" and run.result["outcome"] == "imported"
    assert not CatalogSnapshot.objects.for_org(org_b).exists()


def test_an_unchanged_file_is_a_quiet_no_op(org_a, owner, served):
    base, folder = served
    publish(folder, SLICE_NEW)
    configure(org_a, owner, f"{base}/catalog.json")
    catalog_refresh_run(org=org_a)
    events = NotificationEvent.objects.for_org(org_a).count()
    result = catalog_refresh_for_org_task(org_a.pk)
    assert result["outcome"] == "unchanged"
    assert CatalogSnapshot.objects.for_org(org_a).count() == 1
    latest = ImportJob.objects.for_org(org_a).order_by("-created_at").first()
    assert latest.status == "unchanged" and latest.is_done
    assert NotificationEvent.objects.for_org(org_a).count() == events  # nobody is told
    refresh = CatalogRefresh.objects.for_org(org_a).get()
    assert (refresh.last_outcome, refresh.last_error) == ("unchanged", "")
    assert JobRun.objects.filter(task="evidence.catalog_refresh_for_org").get().result[
        "outcome"] == "unchanged"


def test_failures_are_recorded_and_told_to_admins_once_per_run_of_failures(org_a, owner,
                                                                           served):
    base, folder = served
    configure(org_a, owner, f"{base}/catalog.json")  # nothing published yet: 404
    assert catalog_refresh_run(org=org_a)["outcome"] == "failed"
    assert catalog_refresh_run(org=org_a)["outcome"] == "failed"
    assert failures_told(org_a) == 1
    refresh = CatalogRefresh.objects.for_org(org_a).get()
    assert "HTTP 404" in refresh.last_error and refresh.last_job.status == "failed"
    assert AuditEvent.objects.for_org(org_a).filter(action="catalog.refresh_failed").count() == 1
    event = NotificationEvent.objects.for_org(org_a).get(kind="catalog.refresh_failed")
    assert event.severity == "warning" and "HTTP 404" in event.payload["error"]
    publish(folder, SLICE_NEW)
    assert catalog_refresh_run(org=org_a)["outcome"] == "imported"
    (folder / "catalog.json").unlink()
    assert catalog_refresh_run(org=org_a)["outcome"] == "failed"
    assert failures_told(org_a) == 2  # a new run of failures after one that worked


def test_a_claimed_refresh_is_not_run_twice(org_a, owner, served):
    from django.utils import timezone

    base, folder = served
    publish(folder, SLICE_NEW)
    configure(org_a, owner, f"{base}/catalog.json")
    CatalogRefresh.objects.for_org(org_a).update(claimed_at=timezone.now())
    assert catalog_refresh_run(org=org_a) == {"outcome": "skipped"}
    assert not ImportJob.objects.for_org(org_a).exists()


def test_run_due_jobs_runs_the_refresh(org_a, owner, served, capsys):
    base, folder = served
    publish(folder, SLICE_NEW)
    configure(org_a, owner, f"{base}/catalog.json")
    call_command("run_due_jobs", only=["evidence.catalog_refresh"])
    assert "evidence.catalog_refresh: ok (1)" in capsys.readouterr().out
    assert JobRun.objects.get(task="evidence.catalog_refresh").trigger == "manual"
    assert CatalogSnapshot.objects.for_org(org_a).count() == 1


# Settings

@pytest.mark.parametrize(("fields", "field"), [
    ({"url": "ftp://example.com/catalog.json"}, "url"),
    ({"url": "not a url"}, "url"),
    ({"url": "https://example.com/" + "x" * 500}, "url"),
    ({"format": "yaml"}, "format"),
    ({"source_name": "x" * 101}, "source_name"),
])
def test_bad_refresh_settings_are_refused_per_field(org_a, owner, fields, field):
    with pytest.raises(ValidationError) as caught:
        catalog_refresh_update(org=org_a, actor=owner, **{
            "url": "https://example.com/c.json", "format": "litellm", **fields})
    assert set(caught.value.error_dict) == {field}
    assert not CatalogRefresh.objects.for_org(org_a).exists()


def test_refresh_settings_are_saved_audited_and_admin_only(org_a, personas, outsider):
    saved = configure(org_a, personas["admin"], "https://example.com/c.json")
    assert saved.url == "https://example.com/c.json"
    audit = AuditEvent.objects.for_org(org_a).get(action="catalog.refresh_updated")
    assert audit.changes["url"] == ["", "https://example.com/c.json"]
    configure(org_a, personas["owner"], "https://example.com/c.json")  # no change: no event
    assert AuditEvent.objects.for_org(org_a).filter(action="catalog.refresh_updated").count() == 1
    for actor in (personas["member"], personas["security"], outsider):
        with pytest.raises(PermissionDenied):
            configure(org_a, actor, "https://example.com/other.json")


def test_the_refresh_page(client, org_a, personas):
    login(client, personas["admin"])
    assert "Scheduled catalog refresh" in client.get(URL).content.decode()
    bad = client.post(URL, {"url": "ftp://example.com/c.json", "format": "litellm"})
    assert bad.status_code == 400 and "url" in bad.context["form"].errors
    assert client.post(URL, {"url": "https://example.com/c.json", "format": "litellm",
                             "source_name": ""}).status_code == 302
    login(client, personas["auditor"])
    page = client.get(URL).content.decode()
    assert "https://example.com/c.json" in page and "Not run yet" in page
    assert client.post(URL, {"url": "", "format": "litellm"}).status_code == 403
    login(client, personas["member"])
    assert CatalogRefresh.objects.for_org(org_a).get().url == "https://example.com/c.json"
