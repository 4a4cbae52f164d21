"""In Chromium: an admin requires a smoke test in staging on the evidence rules page, sees
a field error when production loses its catalog row, and resets to the defaults."""

import re

import pytest
from playwright.sync_api import Page, expect

from approvals.checklist import evidence_rules_get
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_edits_and_resets_the_evidence_rules(page: Page, live_server, personas, org_a):
    page.set_default_timeout(30_000)  # a shared 2-core machine: the first page is slow
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label(re.compile(r"^Email:?$")).fill(personas["admin"].user.email)
    page.get_by_label(re.compile(r"^Password:?$")).fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url(f"{live_server.url}/o/acme/")

    page.goto(f"{live_server.url}/o/acme/settings/approvals/")
    page.get_by_role("link", name="Evidence rules").click()
    expect(page.get_by_role("heading", name="Required evidence")).to_be_visible()
    staging_smoke = page.get_by_label("Route smoke test: Staging")
    expect(staging_smoke).not_to_be_checked()
    staging_smoke.check()
    page.get_by_role("button", name="Save evidence rules").click()
    expect(page.get_by_text("Evidence rules saved.")).to_be_visible()
    expect(page.get_by_label("Route smoke test: Staging")).to_be_checked()
    assert evidence_rules_get(org=org_a).required_kinds("staging", []) == {"smoke_test"}

    page.get_by_label("Catalog row: Production").uncheck()
    page.get_by_role("button", name="Save evidence rules").click()
    expect(page.get_by_text("must at least require its catalog row")).to_be_visible()
    page.screenshot(path="test-results/evidence-rules-page.png", full_page=True)

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Reset to the defaults").click()
    expect(page.get_by_text("Evidence rules reset to the defaults.")).to_be_visible()
    expect(page.get_by_label("Route smoke test: Staging")).not_to_be_checked()
    expect(page.get_by_label("Catalog row: Production")).to_be_checked()
