"""In Chromium, with a real Celery worker and the OpenAI-compatible stub gateway on
127.0.0.1: the evidence owner of a production row in testing attaches evidence on the row
page, runs the route smoke tests and watches their progress, sees the checklist close
(nothing blocks approval any more), then exports the row's evidence pack, downloads it and
the download verifies with manage.py verify_evidence_pack."""

import io
import json
import re
import zipfile

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from approvals.models import PolicyRow
from evidence.gateway import gateway_config_update
from tests.approvals.conftest import (  # noqa: F401 (fixtures)
    chat_model,
    make_row,
    people,
    production,
    snapshot,
)
from tests.browser.test_approval_journey import attach
from tests.browser.test_keys import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _short_timeouts(page: Page):
    page.set_default_timeout(20_000)
    expect.set_options(timeout=20_000)


@pytest.fixture
def gateway(loopback_allowed, org_a, people, gateway_stub):  # noqa: F811
    # The stub listens on loopback: allowed here and in the worker, which reads the env.
    gateway_config_update(org=org_a, actor=people["owner"], base_url=gateway_stub.base_url,
                          timeout_seconds=10, key=gateway_stub.key)
    return gateway_stub


def test_evidence_owner_closes_the_checklist_and_downloads_a_verified_pack(
        page: Page, live_server, make_row, people, gateway, celery_worker_process):  # noqa: F811
    row = make_row(PolicyRow.Status.TESTING, evidence=False, allowed_actions=["chat"],
                   data_classes=["public"])
    base = live_server.url
    sign_in(page, base, people["owner"].user.email)
    page.goto(f"{base}/o/acme/matrix/{row.public_id}/")
    blocks = page.locator("#row-evidence").get_by_role("status")
    expect(blocks).to_contain_text("Blocks approval")
    expect(blocks).to_contain_text("smoke test")

    for kind in ("Catalog row", "Usage row", "Billing row", "Rollback test"):
        attach(page, kind, f"{kind} of the support summarizer")
    expect(blocks).to_contain_text("smoke test")  # still the one thing missing

    page.get_by_role("button", name="Run smoke tests").click()
    progress = page.get_by_role("region", name="Smoke test progress")
    expect(progress.get_by_role("progressbar")).to_be_visible()
    expect(progress.get_by_role("status")).to_contain_text("Every request passed")  # polled
    page.get_by_role("link", name="Back to the row's evidence").click()
    expect(page.locator("#row-evidence").get_by_role("status")).to_contain_text(
        "Every required item is attached")

    page.get_by_role("button", name="Export evidence pack").click()
    expect(page.locator("#pack-status")).to_have_text("Ready")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the pack").click()
    path = download_info.value.path()
    out = io.StringIO()
    call_command("verify_evidence_pack", str(path), stdout=out)
    assert "OK:" in out.getvalue()
    with zipfile.ZipFile(path) as pack:
        manifest = json.loads(pack.read("manifest.json"))
    kinds = {item["kind"] for item in manifest["items"]}
    assert {"smoke_test", "usage_row", "billing_row", "rollback_test", "catalog_row",
            "audit_extract"} <= kinds, kinds
    assert re.search(r"gpt-chat", json.dumps(manifest))
