"""In Chromium (issue #13 §1): an admin tries to make the auditor a finance signer of a row
and cannot. The page offers the admin no finance control and no auditor; a form doctored
in the browser to ask for it anyway is refused (403), and the auditor, signed in, gets no
button to sign."""

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from approvals.models import PolicyRow, SignOff
from approvals.permissions import has_grant
from orgs.audit import AuditEvent
from tests.approvals.conftest import (  # noqa: F401 (fixtures)
    chat_model,
    make_row,
    people,
    production,
    snapshot,
)
from tests.browser.test_keys import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _short_timeouts(page: Page):
    page.set_default_timeout(10_000)
    expect.set_options(timeout=10_000)


def test_admin_cannot_make_the_auditor_a_finance_signer(page: Page, live_server,
                                                        make_row, people):  # noqa: F811
    row = make_row(PolicyRow.Status.IN_REVIEW)
    auditor, org = people["auditor"], row.org
    row_url = live_server.url + reverse("approvals:row_detail", args=["acme", row.public_id])
    sign_in(page, live_server.url, people["admin"].user.email)
    page.goto(row_url)

    # The admin may name an app-owner reviewer only, and the auditor is not offered.
    expect(page.get_by_role("heading", name="Name a reviewer: app owner")).to_be_visible()
    expect(page.get_by_role("heading", name="Name a reviewer: finance")).to_have_count(0)
    picker = page.get_by_label("App owner reviewer")
    expect(picker.locator("option", has_text="admin@acme.test")).to_have_count(1)
    expect(picker.locator("option", has_text="auditor@acme.test")).to_have_count(0)

    # Doctor the form as an attacker would: finance, and the auditor's id.
    form = page.locator("form[data-grant-role=app_owner]")
    form.evaluate("""(form, id) => {
        form.querySelector("input[name=role]").value = "finance";
        form.querySelector("select[name=member]").add(new Option("auditor", id), 0);
        form.querySelector("select[name=member]").value = id;
    }""", str(auditor.public_id))
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        form.get_by_role("button", name="Name app owner reviewer").click()
    assert posted.value.status == 403
    expect(page.get_by_role("heading", name="You cannot do this")).to_be_visible()
    expect(page.get_by_text("Only a holder of this authority names its reviewer."))\
        .to_be_visible()
    assert not has_grant(auditor, row, SignOff.Role.FINANCE)
    assert not AuditEvent.objects.for_org(org).filter(
        action="approval.reviewer_granted").exists()

    # The auditor opens the row: nothing to sign.
    page.context.clear_cookies()
    sign_in(page, live_server.url, auditor.user.email)
    page.goto(row_url)
    expect(page.get_by_text("Nothing for you to do on this row now.")).to_be_visible()
    expect(page.get_by_role("button", name="Approve as finance")).to_have_count(0)
