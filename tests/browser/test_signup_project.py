"""End-to-end in Chromium: sign up, verify the email, create an org and a project; and a
seeded persona signing in with email and password."""

import re

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from orgs.models import Membership
from projects.models import Project
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CONFIRM_LINK = re.compile(r"https?://\S+/accounts/confirm-email/[^\s/]+/")
SCREENSHOTS = settings.BASE_DIR / "test-results"
# allauth's own forms label fields "Email:"; ours have no colon. Accept either.
EMAIL = re.compile(r"^Email:?$")
PASSWORD_FIELD = re.compile(r"^Password:?$")
PASSWORD_AGAIN = re.compile(r"^Password \(again\):?$")


@pytest.fixture(autouse=True)
def _short_timeouts(page: Page):
    page.set_default_timeout(10_000)
    expect.set_options(timeout=10_000)


def test_signup_verify_email_create_org_and_project(page: Page, live_server, mailoutbox):
    email, password = "new.person@example.com", "a-long-unusual-passphrase-42"

    page.goto(f"{live_server.url}/accounts/signup/")
    page.get_by_label(EMAIL).fill(email)
    page.get_by_label(PASSWORD_FIELD).fill(password)
    page.get_by_label(PASSWORD_AGAIN).fill(password)
    page.get_by_role("button", name="Sign Up").click()

    # Verification is mandatory: nothing else until the emailed link is opened.
    expect(page).to_have_url(re.compile(r"/accounts/confirm-email/$"))
    [message] = mailoutbox
    assert message.to == [email]
    link = CONFIRM_LINK.search(message.body).group(0)
    page.goto(link)
    page.get_by_role("button", name="Confirm").click()

    # Signed in with no organization yet: straight to creating one.
    expect(page).to_have_url(f"{live_server.url}/orgs/new/")
    expect(page.get_by_role("heading", name="Create an organization")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("Initech")
    page.get_by_label("Address", exact=True).fill("initech")
    page.get_by_role("button", name="Create organization").click()

    expect(page).to_have_url(f"{live_server.url}/o/initech/")
    expect(page.get_by_role("heading", name="Initech", exact=True)).to_be_visible()
    assert Membership.objects.get(org__slug="initech").user.email == email

    page.get_by_role("link", name="Create your first project").click()
    expect(page.get_by_role("heading", name="New project")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("Claims assistant")
    # The page suggests the short name from the name.
    expect(page.get_by_label("Short name")).to_have_value("claims-assistant")
    page.get_by_label("Description").fill("Drafts replies to insurance claims.")
    page.get_by_role("button", name="Create project").click()

    project = Project.objects.get(org__slug="initech", slug="claims-assistant")
    expect(page).to_have_url(
        f"{live_server.url}/o/initech/projects/{project.public_id}/"
    )
    expect(page.get_by_role("heading", name=re.compile("^Claims assistant"))).to_be_visible()
    environments = page.get_by_role("region", name="Environments")
    for tier in ("development", "staging", "production"):
        expect(environments.get_by_role("cell", name=tier, exact=True)).to_be_visible()
    expect(environments.get_by_role("row")).to_have_count(4)  # header + three tiers

    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "project-page.png", full_page=True)


def test_seeded_persona_signs_in_and_sees_the_org_dashboard(page: Page, live_server, owner):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label(EMAIL).fill(owner.user.email)
    page.get_by_label(PASSWORD_FIELD).fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()

    expect(page).to_have_url(f"{live_server.url}/o/{owner.org.slug}/")
    expect(page.get_by_role("heading", name=owner.org.name, exact=True)).to_be_visible()
    expect(page.get_by_text("You are Owner here")).to_be_visible()
    sections = page.get_by_role("navigation", name=f"{owner.org.name} sections")
    expect(sections.get_by_role("link", name="Projects", exact=True)).to_be_visible()
