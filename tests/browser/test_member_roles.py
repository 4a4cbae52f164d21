"""In Chromium: changing a member's role from the members page asks first. Dismissing the
dialog changes nothing; accepting it changes the role (htmx posts confirm=yes)."""

import re

import pytest
from playwright.sync_api import Page, expect

from orgs.audit import AuditEvent
from orgs.models import Membership
from orgs.roles import Role
from tests.browser.test_keys import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _short_timeouts(page: Page):
    page.set_default_timeout(10_000)
    expect.set_options(timeout=10_000)


def test_a_role_change_is_made_only_once_the_owner_confirms_it(page: Page, live_server,
                                                               personas):
    owner, target = personas[Role.OWNER], personas[Role.MEMBER]
    sign_in(page, live_server.url, owner.user.email)
    page.goto(f"{live_server.url}/o/acme/members/")
    select = page.get_by_label(f"Role of {target.user.email}")
    events = AuditEvent.objects.count()

    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    select.select_option(value=Role.FINANCE)  # the dialog runs inside the change handler
    assert asked and target.user.email in asked[0]
    assert Membership.objects.get(pk=target.pk).role == Role.MEMBER
    assert AuditEvent.objects.count() == events

    page.once("dialog", lambda dialog: dialog.accept())
    select.select_option(value=Role.AUDITOR)
    expect(page.get_by_text(re.compile(rf"{re.escape(target.user.email)} is now Auditor"))
           ).to_be_visible()
    assert Membership.objects.get(pk=target.pk).role == Role.AUDITOR
