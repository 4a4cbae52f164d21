"""In Chromium: a security reviewer filters and sorts the matrix (the filter form updates
the table in place with htmx), downloads the filtered CSV, reads the lint report, and adds
then lifts a deny rule (a rule naming nothing is refused with a field error)."""

import csv
import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import Page, expect

from approvals.models import DenyRule, PolicyRow

# The approval fixtures are not in this directory's conftest: imported so pytest finds
# them here, and asked for by name (request.getfixturevalue) so no argument shadows them.
from tests.approvals.conftest import (  # noqa: F401
    chat_model,
    make_entry,
    make_row,
    people,
    production,
    snapshot,
)
from tests.browser.test_keys import sign_in
from tests.factories import CallerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = settings.BASE_DIR / "test-results"


@pytest.fixture(autouse=True)
def _short_timeouts(page: Page):
    page.set_default_timeout(10_000)
    expect.set_options(timeout=10_000)


@pytest.fixture
def reviewer(request, project_a, owner):
    """The security reviewer, with two rows in the matrix: support-api (production, chat)
    and batch (staging, embeddings)."""
    make = request.getfixturevalue("make_row")
    embed = make_entry(request.getfixturevalue("snapshot"), "text-embed",
                       families=("embeddings",))
    make(PolicyRow.Status.ACTIVE)  # no sign-offs: the lint report flags it
    make(environment=project_a.environments.get(tier="staging"),
             caller=CallerFactory(project=project_a, owner=owner, name="batch"),
             models=[embed], allowed_actions=["embeddings"],
             renewal_date=timezone.localdate() + timedelta(days=5))
    return request.getfixturevalue("people")["security"]


def test_security_filters_exports_and_manages_deny_rules(page: Page, live_server, reviewer,
                                                         tmp_path):
    base = live_server.url
    sign_in(page, base, reviewer.user.email)
    page.get_by_role("navigation", name="Acme sections").get_by_role("link",
                                                                     name="Matrix").click()
    expect(page.get_by_role("heading", name="Approval matrix")).to_be_visible()
    table = page.get_by_role("table", name="Policy rows")
    expect(table.get_by_role("row")).to_have_count(3)  # header and two rows

    with page.expect_response(re.compile(r"/matrix/\?.*action=embeddings")):
        page.get_by_label("Action", exact=True).select_option(label="Embeddings")
    expect(table.get_by_role("row")).to_have_count(2)
    expect(table.get_by_role("cell", name="batch")).to_be_visible()
    expect(page).to_have_url(re.compile(r"action=embeddings"))  # pushed: a shareable URL

    page.get_by_label("Action", exact=True).select_option(label="Any action")
    expect(table.get_by_role("row")).to_have_count(3)
    page.get_by_role("link", name="Caller").click()
    expect(page).to_have_url(re.compile(r"sort=caller"))
    expect(table.get_by_role("row").nth(1)).to_contain_text("batch")
    page.get_by_role("link", name="Caller ▲").click()
    expect(table.get_by_role("row").nth(1)).to_contain_text("support-api")
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "matrix.png", full_page=True)

    with page.expect_response(re.compile(r"/matrix/\?.*action=embeddings")):
        page.get_by_label("Action", exact=True).select_option(label="Embeddings")
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    path = tmp_path / "matrix.csv"
    download.value.save_as(path)
    with open(path, newline="") as fh:
        lines = list(csv.DictReader(fh))
    assert [line["caller"] for line in lines] == ["batch"]

    page.get_by_role("link", name="Lint report").click()
    expect(page.get_by_role("heading", name="Policy lint report")).to_be_visible()
    # The active row was put in state without sign-offs, as an import would leave it.
    expect(page.get_by_text("The row is active but was approved by nobody.")).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "lint-report.png", full_page=True)

    page.goto(f"{base}/o/acme/deny-rules/")
    page.get_by_role("link", name="Add deny rule").click()
    page.get_by_label("Reason").fill("Vendor terms forbid training on our data")
    page.get_by_label("Owner").select_option(label="security@acme.test")
    page.get_by_role("button", name="Add deny rule").click()
    expect(page.get_by_text("Deny a platform, a model, an action or a data class")).to_be_visible()
    assert not DenyRule.objects.exists()
    page.get_by_label("Model id").fill("gpt-banned")
    page.get_by_role("button", name="Add deny rule").click()
    active = page.get_by_role("table", name="Active deny rules")
    expect(active.get_by_role("cell", name="gpt-banned")).to_be_visible()
    # Not in the catalog: added all the same, with the warning in plain sight.
    expect(page.get_by_role("alert").filter(has_text="matches no entry of the current "
                                            "catalog")).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "deny-rules.png", full_page=True)

    page.get_by_label("Why lift it").fill("Vendor changed the terms")
    page.get_by_role("button", name="Lift").click()
    expect(page.get_by_text("No active deny rules")).to_be_visible()
    lifted = page.get_by_role("table", name="Lifted deny rules")
    expect(lifted.get_by_role("cell", name="gpt-banned")).to_be_visible()
    assert not DenyRule.objects.get().active
