"""In Chromium: a security reviewer finds a row in the sign-off inbox from the dashboard,
signs it on the row page, and the inbox empties."""

import re

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from approvals.models import PolicyRow
from tests.approvals.conftest import (  # noqa: F401 (fixtures)
    chat_model,
    make_row,
    people,
    production,
    snapshot,
)
from tests.browser.test_keys import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = settings.BASE_DIR / "test-results"


@pytest.fixture(autouse=True)
def _short_timeouts(page: Page):
    page.set_default_timeout(10_000)
    expect.set_options(timeout=10_000)


def test_security_signs_a_row_from_the_inbox(page: Page, live_server, make_row,  # noqa: F811
                                             people):  # noqa: F811
    row = make_row(PolicyRow.Status.IN_REVIEW)
    base = live_server.url
    sign_in(page, base, people["security"].user.email)

    page.get_by_role("link", name="Inbox (1)").click()  # htmx loads the count
    expect(page.get_by_role("heading", name="Sign-off inbox")).to_be_visible()
    page.get_by_role("link", name=re.compile("support-api")).click()
    expect(page.get_by_text("Still missing for version 1: Security, Finance, App owner."))\
        .to_be_visible()
    page.screenshot(path=SCREENSHOTS / "row-detail-in-review.png", full_page=True)
    page.get_by_label("Security comment").fill("Data scope and retention checked.")
    page.get_by_role("button", name="Approve as security").click()

    expect(page.get_by_text("Signed as security. The row is now in review.")).to_be_visible()
    expect(page.get_by_text("Still missing for version 1: Finance, App owner.")).to_be_visible()
    expect(page.get_by_role("button", name="Approve as security")).to_have_count(0)
    page.screenshot(path=SCREENSHOTS / "row-detail-signed.png", full_page=True)
    page.goto(f"{base}/o/acme/inbox/")
    expect(page.get_by_text("Nothing waits for your signature.")).to_be_visible()
    assert row.signoffs.get().comment == "Data scope and retention checked."
