"""In Chromium with a real Celery worker and the OpenAI-compatible stub on 127.0.0.1: the
org owner configures the gateway, opens a production row whose smoke-test lines are
missing, runs the smoke tests, watches the progress until the results show, and finds the
checklist's smoke-test lines closed by the recorded evidence."""

import re

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from approvals.services import row_create
from orgs.roles import Role
from tests.approvals.conftest import make_entry, make_snapshot, row_fields
from tests.browser.test_keys import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

TIMEOUT = 20_000


@pytest.fixture(autouse=True)
def _short_timeouts(page: Page):
    page.set_default_timeout(TIMEOUT)
    expect.set_options(timeout=TIMEOUT)


@pytest.fixture
def loopback_gateway(loopback_allowed):
    # The stub listens on loopback: allowed here and in the worker, which reads the env.
    pass


@pytest.fixture
def worker(loopback_gateway, celery_worker_process):
    return celery_worker_process


@pytest.fixture
def production_row(personas, project_a, caller_a):
    snapshot = make_snapshot(personas[Role.OWNER].org)
    model = make_entry(snapshot, "delay-chat")  # answers after the stub's delay
    people = {"app_owner": personas[Role.MEMBER], "owner": personas[Role.OWNER],
              "finance": personas[Role.FINANCE]}
    fields = row_fields(project=project_a, caller=caller_a, people=people,
                        environment=project_a.environments.get(tier="production"))
    return row_create(org=project_a.org, actor=personas[Role.MEMBER],
                      approved_models=[model], **fields)


def smoke_line(page: Page, label: str):
    table = page.get_by_role("table", name="Required evidence")
    return table.get_by_role("row").filter(has=page.get_by_text(label, exact=True))


def test_owner_runs_smoke_tests_and_watches_the_checklist_close(
        page: Page, live_server, personas, production_row, gateway_stub, worker):
    base = live_server.url
    sign_in(page, base, personas[Role.OWNER].user.email)

    page.goto(f"{base}/o/acme/settings/")
    page.get_by_role("link", name="Gateway for smoke tests").click()
    page.get_by_label("Base URL").fill(gateway_stub.base_url)
    page.get_by_label("Test key").fill(gateway_stub.key)
    page.get_by_label("Timeout (seconds)").fill("10")
    page.get_by_role("button", name="Save gateway settings").click()
    expect(page.get_by_text("Gateway settings saved.")).to_be_visible()
    expect(page.get_by_label("Replace test key")).to_have_value("")

    page.goto(f"{base}/o/acme/matrix/{production_row.public_id}/")
    for label in ("Route smoke test: chat", "Route smoke test: streaming chat"):
        expect(smoke_line(page, label)).to_contain_text("Missing")
    page.get_by_role("button", name="Run smoke tests").click()

    progress = page.get_by_role("region", name="Smoke test progress")
    expect(progress.get_by_role("progressbar")).to_be_visible()
    # htmx polls every second while the worker sends the two requests.
    expect(progress.get_by_role("status")).to_contain_text("Every request passed: 2 of 2")
    results = progress.get_by_role("table", name="Smoke test results")
    expect(results.get_by_role("row")).to_have_count(3)
    expect(results).to_contain_text("Streaming chat")
    expect(results).to_contain_text("2 content deltas, then [DONE]")
    (settings.BASE_DIR / "test-results").mkdir(exist_ok=True)
    page.screenshot(path=settings.BASE_DIR / "test-results" / "smoke-run.png", full_page=True)

    page.get_by_role("link", name="Back to the row's evidence").click()
    for label, title in (("Route smoke test: chat", "Smoke test: chat on delay-chat"),
                         ("Route smoke test: streaming chat",
                          "Smoke test: streaming chat on delay-chat")):
        line = smoke_line(page, label)
        expect(line).to_contain_text("Pending review")
        expect(line).to_contain_text(re.compile(re.escape(title) + r" \(passed\)"))
    expect(page.get_by_role("table", name="Smoke runs")).to_contain_text("2 passed, 0 failed")
    assert gateway_stub.key not in page.content()
