"""In Chromium: a security reviewer collects an audit extract on a row, exports the row's
evidence pack, watches it build, downloads it and the download verifies; the project page
loads its own "Export evidence pack" button from approvals."""

import io
import re

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from approvals.models import PolicyRow, RowEvidence
from evidence.models import EvidenceItem
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


def test_security_exports_and_downloads_a_verified_pack(page: Page, live_server, make_row,  # noqa: F811
                                                        people, project_a):  # noqa: F811
    row = make_row(PolicyRow.Status.IN_REVIEW)
    base = live_server.url
    sign_in(page, base, people["security"].user.email)
    page.goto(f"{base}/o/acme/matrix/{row.public_id}/")

    page.get_by_role("button", name="Collect audit extract").click()
    expect(page.get_by_text(re.compile(r"Audit extract: \d+ events to #\d+: collected"))) \
        .to_be_visible()
    assert RowEvidence.objects.filter(row=row, item__kind=EvidenceItem.Kind.AUDIT_EXTRACT
                                      ).count() == 1

    page.get_by_role("button", name="Export evidence pack").click()
    expect(page).to_have_url(re.compile(r"/o/acme/packs/[0-9a-f-]+/$"))
    expect(page.locator("#pack-status")).to_have_text("Ready")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the pack").click()
    download = download_info.value
    assert download.suggested_filename.startswith("evidence-pack-acme-")
    out = io.StringIO()
    call_command("verify_evidence_pack", str(download.path()), stdout=out)
    assert "OK:" in out.getvalue()

    page.goto(f"{base}/o/acme/projects/{project_a.public_id}/")
    page.get_by_role("button", name="Export evidence pack").click()  # loaded by htmx
    expect(page.locator("#pack-status")).to_have_text("Ready")
    page.get_by_role("link", name="Evidence packs").click()
    expect(page.get_by_role("table", name="Evidence packs")).to_contain_text("Project Support bot")
