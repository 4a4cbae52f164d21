"""The org's required-evidence rules: the service (validation, audit, reset), the settings
page (admins only) and the checklist and gate of rows following them."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from approvals import services
from approvals.checklist import DEFAULT_RULES, evidence_rules_get, row_checklist
from approvals.gates import required_evidence_missing
from approvals.models import ApprovalSettings, PolicyRow
from approvals.services.evidence_rules import evidence_rules_reset, evidence_rules_update
from evidence.models import EvidenceItem
from tests.approvals.conftest import Counts
from tests.conftest import login

pytestmark = pytest.mark.django_db
K = EvidenceItem.Kind
URL = "/o/acme/settings/evidence/"
RESET_URL = URL + "reset/"
DEFAULT_PRODUCTION = [K.CATALOG_ROW, K.SMOKE_TEST, K.USAGE_ROW, K.BILLING_ROW, K.ROLLBACK_TEST]
BOUNDARY = [K.DPA_SCOPE, K.RETENTION, K.LOGGING_SCOPE, K.REDACTION_RULE]


def default_fields(**overrides):
    raw = DEFAULT_RULES.as_json()
    fields = {"tiers": raw["tiers"], "data_classes": raw["data_classes"],
              "data_class_tiers": raw["data_class_tiers"]}
    fields["tiers"] = {**fields["tiers"], **overrides.pop("tiers", {})}
    return {**fields, **overrides}


def form_data(rules=DEFAULT_RULES, **tiers):
    """The page's POST for `rules`, with some tier columns replaced."""
    raw = rules.as_json()
    data = {"data_class_tiers": raw["data_class_tiers"]}
    for tier, kinds in {**raw["tiers"], **tiers}.items():
        data[f"tier_{tier}"] = kinds
    for dc, kinds in raw["data_classes"].items():
        data[f"dc_{dc}"] = kinds
    return data


def staging_row(make_row, project_a, status=PolicyRow.Status.DRAFT, **overrides):
    return make_row(status, environment=project_a.environments.get(tier="staging"),
                    renewal_date=None, renewal_triggers=[], **overrides)


# --- the service ------------------------------------------------------------------------

def test_an_org_without_rules_uses_the_seeds_defaults(org_a):
    rules = evidence_rules_get(org=org_a)
    assert rules is DEFAULT_RULES
    assert rules.required_kinds("production", ["public"]) == set(DEFAULT_PRODUCTION)
    assert rules.required_kinds("production", ["internal"]) == set(DEFAULT_PRODUCTION + BOUNDARY)
    assert rules.required_kinds("staging", ["customer_pii"]) == set()


def test_admin_requires_a_smoke_test_in_staging_audited_with_before_and_after(
        org_a, personas):
    before = Counts(org_a)
    evidence_rules_update(org=org_a, actor=personas["admin"],
                          **default_fields(tiers={"staging": [K.SMOKE_TEST]}))
    assert evidence_rules_get(org=org_a).required_kinds("staging", []) == {K.SMOKE_TEST}
    [audit], [event] = before.new_audit(), before.new_events()
    assert audit.action == event.kind == "approval.evidence_rules_updated"
    assert audit.changes == {"tier_staging": [[], ["smoke_test"]]}
    again = Counts(org_a)
    evidence_rules_update(org=org_a, actor=personas["owner"],
                          **default_fields(tiers={"staging": [K.SMOKE_TEST]}))
    assert again.new_audit() == [] and again.new_events() == []


def test_reset_goes_back_to_the_defaults_audited(org_a, personas):
    evidence_rules_update(org=org_a, actor=personas["admin"],
                          **default_fields(tiers={"staging": [K.SMOKE_TEST]}))
    before = Counts(org_a)
    evidence_rules_reset(org=org_a, actor=personas["admin"])
    assert ApprovalSettings.objects.for_org(org_a).get().evidence_rules is None
    assert evidence_rules_get(org=org_a) is DEFAULT_RULES
    [audit] = before.new_audit()
    assert audit.changes == {"tier_staging": [["smoke_test"], []], "reset": [None, True]}


@pytest.mark.parametrize(("fields", "field"), [
    (default_fields(tiers={"production": [K.SMOKE_TEST]}), "tier_production"),
    (default_fields(tiers={"staging": ["coffee"]}), "tier_staging"),
    (default_fields(tiers={"moon": [K.CATALOG_ROW]}), "tier_moon"),
    (default_fields(data_classes={"gossip": [K.RETENTION]}), "dc_gossip"),
    (default_fields(data_class_tiers=[]), "data_class_tiers"),
    (default_fields(data_class_tiers=["orbit"]), "data_class_tiers"),
])
def test_bad_rules_are_field_errors_and_save_nothing(fields, field, org_a, personas):
    with pytest.raises(ValidationError) as exc:
        evidence_rules_update(org=org_a, actor=personas["admin"], **fields)
    assert field in exc.value.message_dict
    assert not ApprovalSettings.objects.for_org(org_a).exists()


@pytest.mark.parametrize("role", ["member", "security", "finance", "auditor"])
def test_only_admins_and_owners_change_the_rules(role, org_a, personas):
    with pytest.raises(PermissionDenied):
        evidence_rules_update(org=org_a, actor=personas[role], **default_fields())
    with pytest.raises(PermissionDenied):
        evidence_rules_reset(org=org_a, actor=personas[role])
    assert not ApprovalSettings.objects.for_org(org_a).exists()


def test_other_orgs_keep_their_own_rules(org_a, org_b, personas):
    evidence_rules_update(org=org_a, actor=personas["admin"],
                          **default_fields(tiers={"staging": [K.SMOKE_TEST]}))
    assert evidence_rules_get(org=org_b) is DEFAULT_RULES


# --- the checklist and the gate ---------------------------------------------------------

def test_a_staging_row_needs_a_smoke_test_once_an_admin_requires_it(
        org_a, personas, people, make_row, project_a):
    row = staging_row(make_row, project_a, PolicyRow.Status.TESTING, evidence=False)
    assert row_checklist(row).lines == []
    evidence_rules_update(org=org_a, actor=personas["admin"],
                          **default_fields(tiers={"staging": [K.SMOKE_TEST]}))
    assert [(line.kind, line.action, line.state) for line in row_checklist(row).lines] == [
        (K.SMOKE_TEST, "chat", "missing"), (K.SMOKE_TEST, "chat_stream", "missing")]
    assert required_evidence_missing(row, step="testing") == [
        "Route smoke test: chat: no passed smoke test attached",
        "Route smoke test: streaming chat: no passed smoke test attached"]
    with pytest.raises(ValidationError) as exc:
        services.row_start_evidence(org=org_a, actor=people["admin"], row=row)
    assert "Required evidence: Route smoke test: chat" in exc.value.messages[0]
    row.refresh_from_db()
    assert row.status == PolicyRow.Status.TESTING


def test_data_class_evidence_follows_the_chosen_tiers(org_a, personas, make_row, project_a):
    row = staging_row(make_row, project_a, data_classes=["customer_pii"])
    evidence_rules_update(org=org_a, actor=personas["admin"],
                          **default_fields(data_class_tiers=["staging", "production"]))
    assert [line.kind for line in row_checklist(row).lines] == BOUNDARY
    assert len(required_evidence_missing(row, step="evidence")) == 4


def test_production_rows_can_drop_controls_but_keep_the_catalog_row(
        org_a, personas, make_row):
    row = make_row(data_classes=["public"], allowed_actions=["chat"])
    evidence_rules_update(org=org_a, actor=personas["admin"],
                          **default_fields(tiers={"production": [K.CATALOG_ROW]}))
    assert [line.kind for line in row_checklist(row).lines] == [K.CATALOG_ROW]


# --- the page ---------------------------------------------------------------------------

@pytest.mark.parametrize(("role", "status"), [("owner", 200), ("admin", 200),
                                              ("security", 403), ("member", 403),
                                              ("finance", 403), ("auditor", 403)])
def test_only_admins_and_owners_open_the_page(role, status, client, personas):
    login(client, personas[role])
    assert client.get(URL).status_code == status
    assert client.post(URL, form_data(staging=[K.SMOKE_TEST])).status_code in (
        {302} if status == 200 else {403})
    assert client.post(RESET_URL).status_code == (302 if status == 200 else 403)


def test_outsider_gets_404(client, outsider):
    login(client, outsider)
    assert client.get(URL).status_code == 404
    assert client.post(URL, form_data()).status_code == 404
    assert client.post(RESET_URL).status_code == 404


def test_the_page_shows_the_defaults_as_a_table(client, personas):
    login(client, personas["admin"])
    body = client.get(URL).content.decode()
    assert 'aria-label="Required evidence by environment tier"' in body
    assert ('name="tier_production" value="catalog_row" id="id_tier_production_catalog_row"'
            ' aria-label="Catalog row: Production" checked') in body
    assert 'name="tier_staging" value="smoke_test" id="id_tier_staging_smoke_test"' \
           ' aria-label="Route smoke test: Staging">' in body
    assert 'value="dpa_scope" id="id_dc_customer_pii_dpa_scope"' in body
    assert "Reset to the defaults" in body


def test_saving_the_page_changes_the_checklist(client, personas, org_a, make_row, project_a):
    row = staging_row(make_row, project_a)
    login(client, personas["admin"])
    response = client.post(URL, form_data(staging=[K.SMOKE_TEST, K.USAGE_ROW]))
    assert response.status_code == 302 and response.url == URL
    assert [line.kind for line in row_checklist(row).lines] == [
        K.SMOKE_TEST, K.SMOKE_TEST, K.USAGE_ROW]
    body = client.get(URL).content.decode()
    assert 'aria-label="Route smoke test: Staging" checked' in body


def test_dropping_the_production_catalog_row_is_a_field_error(client, personas, org_a):
    login(client, personas["admin"])
    response = client.post(URL, form_data(production=[K.SMOKE_TEST]))
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="tier_production_error"' in body
    assert "must at least require its catalog row" in body
    # What was posted stays on the page: catalog row unchecked, smoke test checked.
    assert 'aria-label="Catalog row: Production">' in body
    assert not ApprovalSettings.objects.for_org(org_a).exists()


def test_an_unknown_kind_on_the_page_is_a_field_error(client, personas, org_a):
    login(client, personas["admin"])
    response = client.post(URL, form_data(staging=["coffee"]))
    assert response.status_code == 400
    assert 'id="tier_staging_error"' in response.content.decode()


def test_reset_button_goes_back_to_the_defaults(client, personas, org_a):
    login(client, personas["admin"])
    client.post(URL, form_data(staging=[K.SMOKE_TEST]))
    response = client.post(RESET_URL)
    assert response.status_code == 302 and response.url == URL
    assert evidence_rules_get(org=org_a) is DEFAULT_RULES
    assert client.get(RESET_URL).status_code == 405


@pytest.mark.parametrize("saved", [False, True])
def test_page_query_count_is_fixed(saved, client, personas, org_a,
                                   django_assert_num_queries):
    if saved:
        evidence_rules_update(org=org_a, actor=personas["admin"],
                              **default_fields(tiers={"staging": [K.SMOKE_TEST]}))
    login(client, personas["admin"])
    client.get(URL)  # warm the session
    # session, user, membership with its org, the security policy, the rules
    with django_assert_num_queries(5):
        assert client.get(URL).status_code == 200


def test_settings_pages_link_to_the_evidence_rules(client, personas):
    login(client, personas["admin"])
    assert URL in client.get("/o/acme/settings/").content.decode()
    assert URL in client.get("/o/acme/settings/approvals/").content.decode()
    login(client, personas["member"])
    assert URL not in client.get("/o/acme/settings/approvals/").content.decode()
