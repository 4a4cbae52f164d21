"""In Chromium, the whole journey of one production row (issue #6): the app owner files a
request in the guided form and submits it; platform screens it, attaches a passed smoke
test, starts evidence, attaches usage, billing and rollback evidence and sends it to
review; security, finance and the app owner sign it, each in their own browser context;
the row becomes active, the matrix shows it and its CSV export downloads."""

import csv
import io
import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from approvals.models import PolicyRow
from orgs.roles import Role
from tests.approvals.conftest import make_entry, make_snapshot
from tests.browser.test_keys import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = settings.BASE_DIR / "test-results"
TIMEOUT = 10_000


@pytest.fixture(autouse=True)
def _short_timeouts(page: Page):
    page.set_default_timeout(TIMEOUT)
    expect.set_options(timeout=TIMEOUT)


def validated(page: Page):
    return page.expect_response(re.compile(r"/requests/validate/$"))


def person(browser: Browser, base: str, membership) -> Page:
    """A signed-in page in a browser context of its own (own cookies, own session)."""
    page = browser.new_context().new_page()
    page.set_default_timeout(TIMEOUT)
    sign_in(page, base, membership.user.email)
    return page


def file_request(page: Page, personas, project, caller):
    page.get_by_role("navigation", name="Acme sections").get_by_role(
        "link", name="Requests").click()
    page.get_by_role("link", name="New request").click()
    with validated(page):
        page.get_by_label("Project").select_option(label=project.name)
    with validated(page):
        page.get_by_label("Environment").select_option(label="production")
    with validated(page):
        page.get_by_label("Caller").select_option(label=caller.name)
    with page.expect_response(re.compile(r"/requests/models/\?q=gpt")):
        page.get_by_placeholder(re.compile("Search the current catalog")).fill("gpt")
    with validated(page):
        page.get_by_label("openai/gpt-chat").check()
    with validated(page):
        page.get_by_label("Chat", exact=True).check()
    with validated(page):
        page.get_by_label("Public", exact=True).check()
    page.get_by_label("Business reason").fill("Public FAQ answers on the help centre")
    page.get_by_label("Monthly budget (USD)").fill("300")
    for field, role in (("App owner", Role.MEMBER), ("Engineering owner", Role.ADMIN),
                        ("Finance owner", Role.FINANCE), ("Evidence owner", Role.ADMIN),
                        ("Cutoff owner", Role.FINANCE)):
        with validated(page):
            page.get_by_label(field, exact=True).select_option(
                label=f"{personas[role].user.email} ({personas[role].get_role_display()})")
    page.get_by_label("Renewal date").fill(
        (timezone.localdate() + timedelta(days=60)).isoformat())
    with validated(page):
        page.get_by_label("Model version change or retirement", exact=True).check()
    page.get_by_role("button", name="Save and submit").click()
    expect(page.locator("#row-status")).to_have_text("Submitted")


def move(page: Page, button: str, status: str):
    page.get_by_role("button", name=button, exact=True).click()
    expect(page.locator("#row-status")).to_have_text(status)


def attach(page: Page, kind: str, title: str, *, action: str = ""):
    form = page.locator("#row-evidence form").last
    form.get_by_label("Kind").select_option(label=kind)
    form.get_by_label("Title").fill(title)
    form.get_by_label("Structured content (JSON)").fill('{"note": "browser journey"}')
    if action:
        form.get_by_label("Action").select_option(label=action)
        form.get_by_label("The smoke test passed").check()
    form.get_by_role("button", name="Attach").click()
    # The page reloads with the item listed (the flash message stays from the last one).
    expect(page.get_by_role("table", name="Attached evidence").get_by_text(title)).to_be_visible()


def sign(browser: Browser, base: str, membership, url: str, role: str, status: str):
    page = person(browser, base, membership)
    page.goto(url)
    page.get_by_label(f"{role} comment").fill(f"{role} checked.")
    page.get_by_role("button", name=f"Approve as {role.lower()}").click()
    expect(page.locator("#row-status")).to_have_text(status)
    page.context.close()


def test_a_production_request_goes_from_the_form_to_the_matrix(
        page: Page, browser: Browser, live_server, org_a, personas, project_a, caller_a):
    make_entry(make_snapshot(org_a), "gpt-chat")
    app_owner = personas[Role.MEMBER]
    base = live_server.url
    sign_in(page, base, app_owner.user.email)
    file_request(page, personas, project_a, caller_a)
    row = PolicyRow.objects.get()
    url = f"{base}/o/acme/matrix/{row.public_id}/"

    platform = person(browser, base, personas[Role.ADMIN])
    platform.goto(url)
    move(platform, "Screen", "Screening")
    move(platform, "Start testing", "Testing")
    platform.get_by_role("button", name="Start evidence", exact=True).click()
    expect(platform.get_by_text(re.compile("Required evidence:.*smoke test"))).to_be_visible()
    attach(platform, "Route smoke test", "Smoke test of chat", action="Chat")
    move(platform, "Start evidence", "Evidence")
    expect(platform.locator("#row-evidence")).to_contain_text("Blocks approval")
    for kind in ("Usage row", "Billing row", "Rollback test"):
        attach(platform, kind, f"{kind} for the help centre")
    expect(platform.locator("#row-evidence")).not_to_contain_text("Blocks approval")
    move(platform, "Send to review", "In review")
    platform.screenshot(path=SCREENSHOTS / "journey-in-review.png", full_page=True)
    platform.context.close()

    sign(browser, base, personas[Role.SECURITY], url, "Security", "In review")
    sign(browser, base, personas[Role.FINANCE], url, "Finance", "In review")
    page.goto(url)
    # One person, one role: the requester signs as app owner, never security or finance.
    expect(page.get_by_role("button", name="Approve as security")).to_have_count(0)
    page.get_by_label("App owner comment").fill("Ours; we own the evidence.")
    page.get_by_role("button", name="Approve as app owner").click()
    expect(page.locator("#row-status")).to_have_text("Active")
    row.refresh_from_db()
    assert row.status == PolicyRow.Status.ACTIVE and row.signoffs.count() == 3

    page.get_by_role("navigation", name="Acme sections").get_by_role("link", name="Matrix").click()
    table = page.get_by_role("table")
    expect(table.get_by_role("link", name=project_a.name)).to_be_visible()
    expect(table).to_contain_text(caller_a.name)
    expect(table).to_contain_text("Active")
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "journey-matrix.png", full_page=True)
    with page.expect_download() as download_info:
        page.get_by_role("link", name=re.compile("CSV")).click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(download.path().read_text(encoding="utf-8-sig"))))
    assert [r["status"] for r in rows] == ["active"]
    assert rows[0]["approved_models"] == "openai/gpt-chat"

