"""In Chromium: a project admin creates a production key, copies its secret from the one
page that shows it, and rotates it with an overlap."""

import re

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from orgs.roles import Role
from projects.credentials import clear_local_cache, resolve_credential
from projects.models import ApiKey
from projects.services import project_role_set
from tests.browser.htmx import settled
from tests.factories import PASSWORD, MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = settings.BASE_DIR / "test-results"


@pytest.fixture(autouse=True)
def _short_timeouts(page: Page):
    page.set_default_timeout(10_000)
    expect.set_options(timeout=10_000)


@pytest.fixture
def project_admin(org_a, owner, project_a, caller_a):
    member = MembershipFactory(org=org_a, role=Role.MEMBER, user__email="lead@acme.test")
    project_role_set(org=org_a, actor=owner, project=project_a, membership=member, role="admin")
    return member


def sign_in(page: Page, base: str, email: str):
    page.goto(f"{base}/accounts/login/")
    page.get_by_label(re.compile(r"^Email:?$")).fill(email)
    page.get_by_label(re.compile(r"^Password:?$")).fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url(re.compile(r"/o/acme/$"))


def test_project_admin_creates_copies_and_rotates_a_production_key(
        page: Page, live_server, project_admin, project_a, caller_a):
    base = live_server.url
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    sign_in(page, base, project_admin.user.email)

    page.get_by_role("navigation", name="Acme sections").get_by_role("link", name="Keys").click()
    expect(page.get_by_role("heading", name="Team API keys")).to_be_visible()
    page.get_by_role("link", name="Create key").click()
    with settled(page, r"/keys/new/"):  # htmx narrows the choices
        page.get_by_label("Project").select_option(label=project_a.name)
    page.get_by_label("Environment").select_option(label=f"{project_a.name} / production")
    page.get_by_label("Caller").select_option(label=f"{project_a.name} / {caller_a.name}")
    page.get_by_label("Name").fill("support-api production")
    page.get_by_role("button", name="Create key").click()

    expect(page.get_by_role("heading", name=re.compile("Key created"))).to_be_visible()
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    secret = page.evaluate("navigator.clipboard.readText()")
    assert re.fullmatch(r"gvk_live_[0-9A-Za-z]{38}", secret)
    assert page.get_by_label("New secret").input_value() == secret
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "key-created.png", full_page=True)
    key = ApiKey.objects.get()
    assert key.environment.tier == "production" and key.created_by == project_admin.user
    assert resolve_credential(secret).ok

    page.get_by_role("link", name="I stored it: go to the key").click()
    expect(page.get_by_role("heading", name=re.compile("support-api production"))).to_be_visible()
    assert secret not in page.content()  # shown once, never again
    page.get_by_label("Overlap").select_option(label="1 hour")
    page.get_by_role("button", name="Rotate key").click()
    # The confirm step: nothing rotated yet, and it names the old secret's real end (an
    # hour from now, not the key's own expiry weeks away).
    expect(page.get_by_role("heading", name=re.compile("Rotate key"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"keeps working until .* \(1 hour from now\)"))
           ).to_be_visible()
    assert ApiKey.objects.get(pk=key.pk).status == ApiKey.Status.ACTIVE
    page.get_by_role("button", name="Rotate key").click()

    expect(page.get_by_role("heading", name=re.compile("Key rotated"))).to_be_visible()
    successor_secret = page.get_by_label("New secret").input_value()
    assert successor_secret != secret
    expect(page.get_by_text(re.compile(r"keeps working until"))).to_be_visible()
    clear_local_cache()
    assert resolve_credential(successor_secret).ok
    assert resolve_credential(secret).ok  # inside the one-hour overlap
    assert ApiKey.objects.get(pk=key.pk).status == ApiKey.Status.ROTATING
    page.goto(f"{base}/o/acme/keys/")
    rows = page.get_by_role("row")
    expect(rows).to_have_count(3)  # header, the successor, the rotating key
    expect(page.get_by_role("cell", name=re.compile("Rotating"))).to_be_visible()
    expect(page.get_by_role("cell", name=re.compile("Active"))).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "key-list.png", full_page=True)
