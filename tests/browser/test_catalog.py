"""End-to-end in Chromium with a real Celery worker: upload two catalog snapshots, watch
the import progress turn into the result, search for a model, open the diff."""

import re

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from tests.evidence.conftest import SLICE_NEW, SLICE_OLD
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _short_timeouts(page: Page):
    page.set_default_timeout(15_000)
    expect.set_options(timeout=15_000)


def sign_in(page: Page, live_server, membership):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label(re.compile(r"^Email:?$")).fill(membership.user.email)
    page.get_by_label(re.compile(r"^Password:?$")).fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url(f"{live_server.url}/o/{membership.org.slug}/")


def upload(page: Page, path):
    page.get_by_label("Format").select_option("litellm")
    page.get_by_label("File").set_input_files(path)
    page.get_by_role("button", name="Import").click()
    progress = page.get_by_role("region", name="Import progress")
    expect(progress).to_be_visible()
    expect(progress.get_by_role("progressbar")).to_be_visible()
    # htmx polls every second until the worker has finished.
    expect(progress.get_by_role("status")).to_contain_text("Imported")


def test_upload_progress_search_and_diff(page: Page, live_server, owner,
                                         celery_worker_process):
    sign_in(page, live_server, owner)
    page.get_by_role("navigation", name="Acme sections").get_by_role("link",
                                                                      name="Catalog").click()
    expect(page.get_by_text("No catalog snapshot yet.")).to_be_visible()
    page.get_by_role("link", name="Import a snapshot").first.click()
    upload(page, SLICE_OLD)
    page.goto(f"{live_server.url}/o/acme/catalog/snapshots/import/")
    upload(page, SLICE_NEW)

    page.get_by_role("link", name="Browse it").click()
    page.get_by_label("Search", exact=True).fill("gpt-4o")
    page.get_by_role("button", name="Search").click()
    table = page.get_by_role("table", name="Catalog entries")
    expect(table.get_by_role("link", name="gpt-4o", exact=True).first).to_be_visible()
    table.get_by_role("link", name="gpt-4o", exact=True).first.click()
    expect(page.get_by_role("heading", name="gpt-4o")).to_be_visible()
    expect(page.get_by_role("table", name="History").get_by_role("row")).to_have_count(3)

    page.goto(f"{live_server.url}/o/acme/catalog/?q=gpt")
    (settings.BASE_DIR / "test-results").mkdir(exist_ok=True)
    page.screenshot(path=settings.BASE_DIR / "test-results" / "catalog-list.png", full_page=True)
    page.get_by_role("link", name="Catalog", exact=True).first.click()
    page.get_by_role("link", name="Snapshots", exact=True).click()
    page.get_by_role("link", name="LiteLLM model cost map 2026-11-12").click()
    page.get_by_role("button", name="Show the diff").click()
    expect(page.get_by_role("heading", name=re.compile("2026-05-17 → .*2026-11-12"))) \
        .to_be_visible()
    expect(page.get_by_role("table", name="Changes")).to_contain_text("Added")
    expect(page.get_by_role("table", name="Change list").get_by_role("row").nth(1)) \
        .to_be_visible()
    page.screenshot(path=settings.BASE_DIR / "test-results" / "catalog-diff.png", full_page=True)
