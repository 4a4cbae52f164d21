"""The import task: through a real Celery worker, claimed once, and URL imports served by
a local http.server."""

import functools
import http.server
import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from evidence.catalog import import_job_run
from evidence.models import CatalogSnapshot, ImportJob
from evidence.tasks import run_catalog_import_task
from tests.components import wait_for
from tests.evidence.conftest import DATA, SLICE_NEW


@pytest.fixture
def file_server(loopback_allowed):
    """Serves tests/evidence/data on 127.0.0.1 (a free port) from a thread."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(DATA))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _job(org, owner, **kwargs):
    return ImportJob.objects.create(org=org, format="litellm", source_name="LiteLLM model "
                                    "cost map", created_by=owner, **kwargs)


@pytest.mark.django_db
def test_a_url_import_fetches_and_imports(org_a, owner, file_server):
    job = _job(org_a, owner, url=f"{file_server}/{SLICE_NEW.name}", source_ref=SLICE_NEW.name)
    assert run_catalog_import_task(org_a.pk, job.pk) == "succeeded"
    job.refresh_from_db()
    assert job.snapshot.source_ref == SLICE_NEW.name and job.percent == 100


@pytest.mark.django_db
def test_an_unreachable_url_is_a_clear_report_and_writes_nothing(org_a, owner, file_server):
    for address in (f"{file_server}/missing.json", "http://127.0.0.1:9/catalog.json"):
        job = _job(org_a, owner, url=address, source_ref=address)
        assert run_catalog_import_task(org_a.pk, job.pk) == "failed"
        job.refresh_from_db()
        assert address in job.report["error"]
    assert "HTTP 404" in ImportJob.objects.for_org(org_a).get(
        url__endswith="missing.json").report["error"]
    assert "could not be fetched" in ImportJob.objects.for_org(org_a).get(
        url__contains=":9/").report["error"]
    assert not CatalogSnapshot.objects.for_org(org_a).exists()


@pytest.mark.django_db
def test_a_job_runs_once(org_a, owner):
    job = _job(org_a, owner, payload=SLICE_NEW.read_bytes(), source_ref=SLICE_NEW.name)
    assert import_job_run(org=org_a, job_id=job.pk).status == "succeeded"
    assert import_job_run(org=org_a, job_id=job.pk) is None  # already claimed
    assert CatalogSnapshot.objects.for_org(org_a).count() == 1


@pytest.mark.django_db
def test_a_job_of_another_org_is_not_run(org_a, org_b, owner):
    job = _job(org_a, owner, payload=SLICE_NEW.read_bytes(), source_ref=SLICE_NEW.name)
    assert import_job_run(org=org_b, job_id=job.pk) is None
    job.refresh_from_db()
    assert job.status == "queued"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_real_worker_runs_an_import(org_a, owner, celery_worker_process):
    job = _job(org_a, owner, payload=SLICE_NEW.read_bytes(), source_ref=SLICE_NEW.name)
    run_catalog_import_task.delay(org_a.pk, job.pk)

    def finished():
        job.refresh_from_db()
        return job.is_done

    wait_for(finished, timeout=20, message=celery_worker_process.log()[-3000:])
    assert job.status == "succeeded", job.report
    assert job.snapshot.entry_count == CatalogSnapshot.objects.for_org(org_a).get().entry_count


@pytest.mark.django_db
def test_a_job_whose_worker_died_is_claimed_again(org_a, owner):
    job = _job(org_a, owner, payload=SLICE_NEW.read_bytes(), source_ref=SLICE_NEW.name,
               status="running", started_at=timezone.now() - timedelta(minutes=5))
    assert import_job_run(org=org_a, job_id=job.pk) is None  # still running elsewhere
    ImportJob.objects.for_org(org_a).filter(pk=job.pk).update(
        started_at=timezone.now() - timedelta(hours=1))
    assert import_job_run(org=org_a, job_id=job.pk).status == "succeeded"
