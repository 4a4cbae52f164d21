"""In Chromium: an app owner files a request in the guided form, is told about a negative
budget as they type (htmx), picks a model from the catalog search and saves a draft."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import Page, expect

from approvals.models import PolicyRow
from orgs.roles import Role
from tests.approvals.conftest import make_entry, make_snapshot
from tests.browser.htmx import settled
from tests.browser.test_keys import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = settings.BASE_DIR / "test-results"


@pytest.fixture(autouse=True)
def _short_timeouts(page: Page):
    page.set_default_timeout(10_000)
    expect.set_options(timeout=10_000)


def validated(page: Page):
    return settled(page, r"/requests/validate/$")


def test_app_owner_files_a_draft_with_as_you_go_validation(page: Page, live_server, org_a,
                                                           personas, project_a, caller_a):
    make_entry(make_snapshot(org_a), "gpt-chat")
    requester = personas[Role.MEMBER]
    base = live_server.url
    sign_in(page, base, requester.user.email)
    page.get_by_role("navigation", name="Acme sections").get_by_role(
        "link", name="Requests").click()
    page.get_by_role("link", name="New request").click()
    expect(page.get_by_role("heading", name="Request model access")).to_be_visible()

    with validated(page):  # the section re-renders with this project's choices
        page.get_by_label("Project").select_option(label=project_a.name)
    with validated(page):  # the key and identity choices narrow to this environment
        page.get_by_label("Environment").select_option(label="production")
    with validated(page):
        page.get_by_label("Caller").select_option(label=caller_a.name)

    with page.expect_response(re.compile(r"/requests/models/\?q=gpt")):
        page.get_by_placeholder(re.compile("Search the current catalog")).fill("gpt")
    with validated(page):
        page.get_by_label("openai/gpt-chat").check()
    expect(page.locator("#field-approved_models input[id^=chosen-]")).to_have_count(1)
    for action in ("Chat", "Streaming chat"):
        with validated(page):
            page.get_by_label(action, exact=True).check()
    with validated(page):
        page.get_by_label("Internal", exact=True).check()
    page.get_by_label("Business reason").fill("Support reply summarizer")

    budget = page.get_by_label("Monthly budget (USD)")
    with validated(page):
        budget.fill("-5")
        budget.press("Tab")
    expect(page.locator("#field-monthly_budget")).to_contain_text("Must not be negative.")
    budget = page.get_by_label("Monthly budget (USD)")
    with validated(page):
        budget.fill("500")
        budget.press("Tab")
    expect(page.locator("#field-monthly_budget .invalid-feedback")).to_have_count(0)

    for field, role in (("App owner", Role.MEMBER), ("Engineering owner", Role.OWNER),
                        ("Finance owner", Role.FINANCE), ("Evidence owner", Role.OWNER),
                        ("Cutoff owner", Role.OWNER)):
        with validated(page):
            page.get_by_label(field, exact=True).select_option(
                label=f"{personas[role].user.email} ({personas[role].get_role_display()})")
    with validated(page):
        page.get_by_label("Renewal date").fill(
            (timezone.localdate() + timedelta(days=60)).isoformat())
        page.get_by_label("Renewal date").press("Tab")
    with validated(page):
        page.get_by_label("Incident", exact=True).check()
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "request-form.png", full_page=True)

    page.get_by_role("button", name="Save draft").click()
    # The row page is another part of #6; the redirect to it is what this form owns.
    expect(page).to_have_url(re.compile(r"/o/acme/matrix/[0-9a-f-]{36}/$"))
    row = PolicyRow.objects.get()
    assert page.url.endswith(f"/matrix/{row.public_id}/")
    assert (row.status, row.version, row.requested_by) == ("draft", 1, requester)
    assert [e.model_id for e in row.approved_models.all()] == ["gpt-chat"]
    assert row.allowed_actions == ["chat", "chat_stream"] and row.monthly_budget == 500
