"""In Chromium: an admin sets what catalog changes do on the approval settings page and a
daily catalog refresh on the catalog's Refresh tab."""

import pytest
from playwright.sync_api import Page, expect

from approvals.selectors import approval_settings_get
from evidence.refresh import catalog_refresh_get
from tests.browser.test_catalog import sign_in

# The refresh URL is checked against the outbound policy when saved: example.com resolves
# to a public address without DNS (this machine has none), and nothing is fetched.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("public_dns")]


def test_admin_sets_catalog_change_rules_and_the_refresh(page: Page, live_server, personas,
                                                         org_a):
    admin = personas["admin"]
    sign_in(page, live_server, admin)
    page.goto(f"{live_server.url}/o/acme/settings/approvals/")
    page.get_by_label("Catalog price tolerance (%)").fill("-3")
    page.get_by_role("button", name="Save approval settings").click()
    expect(page.get_by_text("Ensure this value is greater than or equal to 0.")).to_be_visible()
    page.get_by_label("Catalog price tolerance (%)").fill("25")
    page.get_by_label("Input or output price changed beyond the tolerance").check()
    page.get_by_label("Endpoint family changed").uncheck()
    page.screenshot(path="/tmp/catalogtrig-settings.png", full_page=True)
    page.get_by_role("button", name="Save approval settings").click()
    expect(page.get_by_text("Approval settings saved.")).to_be_visible()
    saved = approval_settings_get(org=org_a)
    assert (saved.catalog_price_tolerance_percent, saved.catalog_renewal_changes) == (
        25, ["removed", "deprecation", "price"])

    page.goto(f"{live_server.url}/o/acme/catalog/snapshots/")
    page.get_by_role("link", name="Refresh", exact=True).click()
    page.get_by_label("Catalog URL").fill("ftp://example.com/catalog.json")
    page.get_by_role("button", name="Save catalog refresh").click()
    expect(page.locator(".invalid-feedback")).to_contain_text("URL")
    page.get_by_label("Catalog URL").fill("https://example.com/model_prices.json")
    page.get_by_role("button", name="Save catalog refresh").click()
    expect(page.get_by_text("Catalog refresh saved.")).to_be_visible()
    expect(page.get_by_text("Not run yet.")).to_be_visible()
    page.screenshot(path="/tmp/catalogtrig-refresh.png", full_page=True)
    assert catalog_refresh_get(org=org_a).url == "https://example.com/model_prices.json"
