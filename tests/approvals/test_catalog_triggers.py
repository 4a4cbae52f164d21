"""Catalog change -> renewal triggers, on the two real LiteLLM snapshots of shared/data.

Between 1.85.0 (2026-05-17) and 1.109.1 (2026-11-12): claude-3-opus-20240229 is removed,
claude-sonnet-4-5 gets a deprecation date (2026-11-30), eu.amazon.nova-2-lite-v1:0's input
price rises 30 % (0.33 -> 0.429 USD per 1M tokens), and gpt-4o does not change. Each
import of a whole real snapshot takes about 1.5 s here, so each test imports the pair
once.
"""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from approvals.catalog_triggers import catalog_triggers_run
from approvals.models import Finding, PolicyRow
from approvals.services import approval_settings_update
from evidence.models import CatalogEntry
from evidence.refresh import catalog_refresh_run
from orgs.audit import AuditEvent
from tests.approvals.conftest import Counts
from tests.evidence.conftest import (
    LITELLM_NEW,
    LITELLM_OLD,
    SLICE_NEW,
    SLICE_OLD,
    import_file,
    real_file,
)
from tests.evidence.test_refresh import configure, publish, served  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

REMOVED = "claude-3-opus-20240229"
DEPRECATED = "claude-sonnet-4-5"
PRICED = "eu.amazon.nova-2-lite-v1:0"
UNCHANGED = "gpt-4o"
S = PolicyRow.Status


@pytest.fixture
def older(org_a, owner):
    return import_file(org_a, real_file(LITELLM_OLD), actor=owner)


@pytest.fixture
def entry(org_a, older):
    return lambda key: CatalogEntry.objects.for_org(org_a).get(snapshot=older, key=key)


def findings(org, row):
    return sorted(Finding.objects.for_org(org).filter(row=row).values_list("title", flat=True))


def test_the_newer_snapshot_raises_findings_and_reopens_rows_where_the_rule_says(
        org_a, owner, make_row, entry):
    removed = make_row(S.ACTIVE, models=[entry(REMOVED)])
    deprecated = make_row(S.ACTIVE, models=[entry(DEPRECATED)])
    priced = make_row(S.ACTIVE, models=[entry(PRICED)])
    unchanged = make_row(S.ACTIVE, models=[entry(UNCHANGED)])
    in_review = make_row(S.IN_REVIEW, models=[entry(REMOVED)])
    already_due = make_row(S.RENEWAL_DUE, models=[entry(DEPRECATED)])
    draft = make_row(models=[entry(REMOVED)])
    before = Counts(org_a)

    newer = import_file(org_a, real_file(LITELLM_NEW), actor=owner)

    assert findings(org_a, removed) == [
        f"{REMOVED} was removed from the catalog (LiteLLM model cost map 2026-11-12)"]
    assert findings(org_a, deprecated) == [
        f"{DEPRECATED}: deprecation scheduled for 2026-11-30 (LiteLLM model cost map "
        "2026-11-12)"]
    [price] = findings(org_a, priced)
    assert price.startswith(f"{PRICED}: price changed, input price +30 % (0.33 → 0.429)")
    assert findings(org_a, unchanged) == [] and findings(org_a, draft) == []
    assert len(findings(org_a, in_review)) == 1 and len(findings(org_a, already_due)) == 1
    for row in (removed, deprecated, priced, unchanged, in_review, already_due):
        row.refresh_from_db()
    # The default rule reopens on removal and deprecation; a price change is a finding only.
    assert (removed.status, deprecated.status, priced.status, unchanged.status) == (
        S.RENEWAL_DUE, S.RENEWAL_DUE, S.ACTIVE, S.ACTIVE)
    assert (in_review.status, already_due.status) == (S.IN_REVIEW, S.RENEWAL_DUE)

    gone = Finding.objects.for_org(org_a).get(row=removed)
    assert (gone.kind, gone.severity, gone.source_id) == (
        Finding.Kind.CATALOG_CHANGE, Finding.Severity.CRITICAL, str(newer.public_id))
    assert gone.link.startswith("/o/acme/catalog/diff/?old=") and "change=removed" in gone.link
    assert gone.detail["reopens_row"] is True and gone.detail["key"] == REMOVED
    moves = [e for e in before.new_audit() if e.action == "approval.renewal_due"]
    assert {e.object_id for e in moves} == {str(removed.public_id), str(deprecated.public_id)}
    assert all(e.actor_id is None and "removed" in e.changes["reason"][1]
               or "deprecation" in e.changes["reason"][1] for e in moves)
    raised = [e for e in before.new_audit() if e.action == "approval.finding_raised"]
    assert len(raised) == 5

    # Running the receiver again for the same snapshot raises and moves nothing.
    again = Counts(org_a)
    result = catalog_triggers_run(org=org_a, snapshot=newer)
    assert (result.findings, result.moved, result.changes) == (0, [], 3)
    assert again.new_audit() == [] and again.new_events() == []


def test_the_org_rule_and_the_rows_own_triggers_decide_what_reopens(
        org_a, owner, personas, make_row, entry):
    approval_settings_update(org=org_a, actor=personas["admin"],
                             catalog_price_tolerance_percent=50,
                             catalog_renewal_changes=["removed", "price"])
    # model_change covers deprecation for this row; the other asked only for spend spikes.
    own_trigger = make_row(S.ACTIVE, models=[entry(DEPRECATED)])
    no_trigger = make_row(S.ACTIVE, models=[entry(DEPRECATED)],
                          renewal_triggers=["spend_spike"])
    within_tolerance = make_row(S.ACTIVE, models=[entry(PRICED)],
                                renewal_triggers=["catalog_change"])

    import_file(org_a, real_file(LITELLM_NEW), actor=owner)

    for row in (own_trigger, no_trigger, within_tolerance):
        row.refresh_from_db()
    assert (own_trigger.status, no_trigger.status) == (S.RENEWAL_DUE, S.ACTIVE)
    assert len(findings(org_a, no_trigger)) == 1
    assert Finding.objects.for_org(org_a).get(row=no_trigger).detail["reopens_row"] is False
    # +30 % is within a 50 % tolerance: no finding, no move, whatever the row asks for.
    assert findings(org_a, within_tolerance) == [] and within_tolerance.status == S.ACTIVE


def test_a_row_asking_for_catalog_changes_reopens_on_a_price_change(org_a, owner, make_row,
                                                                     entry):
    row = make_row(S.ACTIVE, models=[entry(PRICED)], renewal_triggers=["catalog_change"])
    import_file(org_a, real_file(LITELLM_NEW), actor=owner)
    row.refresh_from_db()
    assert row.status == S.RENEWAL_DUE and len(findings(org_a, row)) == 1


def test_the_first_snapshot_and_an_older_one_imported_late_raise_nothing(org_a, owner,
                                                                         make_row):
    newer = import_file(org_a, SLICE_NEW, actor=owner)
    row = make_row(S.ACTIVE, models=[CatalogEntry.objects.for_org(org_a).get(
        snapshot=newer, key=DEPRECATED)])
    older = import_file(org_a, SLICE_OLD, actor=owner)  # a backfill: history, not news
    assert not Finding.objects.for_org(org_a).exists()
    assert catalog_triggers_run(org=org_a, snapshot=older).previous is None
    row.refresh_from_db()
    assert row.status == S.ACTIVE


def test_a_row_without_a_renewal_date_keeps_its_state_and_gets_the_finding(
        org_a, owner, make_row, project_a, entry):
    staging = project_a.environments.exclude(tier="production").first()
    row = make_row(S.ACTIVE, models=[entry(REMOVED)], environment=staging, renewal_date=None)
    import_file(org_a, real_file(LITELLM_NEW), actor=owner)
    row.refresh_from_db()
    assert row.status == S.ACTIVE and len(findings(org_a, row)) == 1


def test_another_orgs_rows_are_untouched(org_a, org_b, owner, outsider, make_row, entry):
    row = make_row(S.ACTIVE, models=[entry(REMOVED)])
    import_file(org_b, real_file(LITELLM_OLD), actor=outsider)
    import_file(org_b, real_file(LITELLM_NEW), actor=outsider)
    row.refresh_from_db()
    assert row.status == S.ACTIVE and not Finding.objects.for_org(org_a).exists()
    assert not AuditEvent.objects.for_org(org_b).filter(action="approval.renewal_due").exists()


# The scheduled refresh (issue #8) imports through the same path and raises the same.

def test_the_refreshed_snapshot_raises_catalog_change_findings(
        org_a, owner, served, make_row):  # noqa: F811 (the imported fixture)
    base, folder = served
    older = import_file(org_a, SLICE_OLD, actor=owner)
    entry = CatalogEntry.objects.for_org(org_a).get(snapshot=older, key="claude-3-opus-20240229")
    row = make_row(PolicyRow.Status.ACTIVE, models=[entry])
    publish(folder, SLICE_NEW)
    configure(org_a, owner, f"{base}/catalog.json")
    catalog_refresh_run(org=org_a)
    [finding] = Finding.objects.for_org(org_a).filter(row=row)
    assert finding.title.startswith("claude-3-opus-20240229 was removed from the catalog")
    row.refresh_from_db()
    assert row.status == PolicyRow.Status.RENEWAL_DUE


# Settings: the two catalog fields, validated per field.

@pytest.mark.parametrize(("fields", "field"), [
    ({"catalog_price_tolerance_percent": -1}, "catalog_price_tolerance_percent"),
    ({"catalog_price_tolerance_percent": 1001}, "catalog_price_tolerance_percent"),
    ({"catalog_price_tolerance_percent": "ten"}, "catalog_price_tolerance_percent"),
    ({"catalog_renewal_changes": ["removed", "context"]}, "catalog_renewal_changes"),
    ({"catalog_renewal_changes": "removed"}, "catalog_renewal_changes"),
])
def test_bad_catalog_settings_are_refused_per_field(org_a, personas, fields, field):
    with pytest.raises(ValidationError) as caught:
        approval_settings_update(org=org_a, actor=personas["admin"], **fields)
    assert set(caught.value.error_dict) == {field}


def test_catalog_settings_default_and_are_stored_in_choice_order(org_a, personas):
    saved = approval_settings_update(org=org_a, actor=personas["admin"],
                                     catalog_renewal_changes=["family", "removed"])
    assert saved.catalog_renewal_changes == ["removed", "family"]
    assert saved.catalog_price_tolerance_percent == 10
    assert timezone.now() - saved.updated_at < timedelta(minutes=1)


def test_the_settings_page_shows_and_validates_the_catalog_settings(client, org_a, personas):
    from tests.approvals.test_settings import GOOD, URL
    from tests.conftest import login

    login(client, personas["admin"])
    page = client.get(URL).content.decode()
    assert "Catalog price tolerance" in page and "Catalog changes that reopen a row" in page
    assert 'value="removed" class="form-check-input" id="id_catalog_renewal_changes_0" ' \
           'checked' in page
    bad = client.post(URL, {**GOOD, "catalog_price_tolerance_percent": "-5",
                            "catalog_renewal_changes": ["removed", "nope"]})
    assert bad.status_code == 400
    assert bad.context["form"].errors.keys() == {"catalog_price_tolerance_percent",
                                                 "catalog_renewal_changes"}
    ok = client.post(URL, {**GOOD, "catalog_price_tolerance_percent": "25",
                           "catalog_renewal_changes": ["price"]})
    assert ok.status_code in (200, 302)
    login(client, personas["auditor"])
    page = client.get(URL).content.decode()
    assert "25 %" in page and "Input or output price changed beyond the tolerance" in page
