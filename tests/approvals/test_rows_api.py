"""The rows API: rows, workflow moves, sign-offs, the inbox and deny rules, over
/api/v1/o/<org>/."""

from datetime import date, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from approvals.models import DenyRule, PolicyRow, SignOff
from orgs.roles import Role
from tests.approvals.conftest import Counts, make_entry, make_snapshot, sign

S = PolicyRow.Status
BASE = "/api/v1/o/acme/"


def api(membership):
    client = APIClient()
    client.force_authenticate(membership.user)
    return client


@pytest.fixture
def body(project_a, production, caller_a, people, chat_model):
    """body(**overrides): a complete, valid row as JSON (public ids)."""
    def build(**overrides):
        data = {
            "project": str(project_a.public_id), "environment": str(production.public_id),
            "caller": str(caller_a.public_id), "approved_models": [str(chat_model.public_id)],
            "allowed_actions": ["chat", "chat_stream"], "data_classes": ["internal"],
            "business_reason": "Support reply summarizer", "monthly_budget": "500.00",
            "daily_cap": "40.00", "rate_limit_per_minute": 60,
            "alert_thresholds": [50, 80, 100], "cutoff_behaviour": "block",
            "renewal_date": (timezone.localdate() + timedelta(days=60)).isoformat(),
            "renewal_triggers": ["model_change", "spend_spike"],
            **{name: str(people[who].public_id) for name, who in (
                ("app_owner", "app_owner"), ("engineering_owner", "owner"),
                ("finance_owner", "finance"), ("evidence_owner", "owner"),
                ("cutoff_owner", "owner"))},
        }
        data.update(overrides)
        return {k: v for k, v in data.items() if v is not ...}
    return build


def rows(org):
    return PolicyRow.objects.for_org(org)


# Filing and reading rows


def test_member_files_a_draft(people, org_a, body, chat_model):
    before = Counts(org_a)
    response = api(people["requester"]).post(BASE + "rows/", body(), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    row = rows(org_a).get()
    assert data["id"] == str(row.public_id) and data["status"] == "draft"
    assert data["version"] == 1 and data["requested_by"] == str(people["requester"].public_id)
    assert data["approved_models"] == [{
        "id": str(chat_model.public_id), "platform": "openai", "model_id": "gpt-chat",
        "key": "openai/gpt-chat", "snapshot": str(chat_model.snapshot.public_id)}]
    assert [e.action for e in before.new_audit()] == ["approval.created"]


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.FINANCE, Role.SECURITY])
def test_reviewer_roles_cannot_file_rows(personas, role, org_a, body):
    response = api(personas[role]).post(BASE + "rows/", body(), format="json")
    assert response.status_code == 403
    assert not rows(org_a).exists()


@pytest.mark.parametrize("role", list(Role))
def test_every_member_reads_rows(personas, role, make_row):
    row = make_row()
    client = api(personas[role])
    assert client.get(BASE + "rows/").json()["count"] == 1
    assert client.get(BASE + f"rows/{row.public_id}/").json()["id"] == str(row.public_id)


def test_outsider_gets_404(outsider, make_row):
    row = make_row()
    client = api(outsider)
    assert client.get(BASE + "rows/").status_code == 404
    assert client.get(BASE + f"rows/{row.public_id}/").status_code == 404
    assert client.post(BASE + f"rows/{row.public_id}/submit/").status_code == 404
    assert client.get(BASE + "inbox/").status_code == 404
    assert client.get(BASE + "deny-rules/").status_code == 404


def test_foreign_row_is_404_in_own_org(outsider, org_b, project_b, caller_b, owner):
    from approvals.services import row_create

    snapshot = make_snapshot(org_b)
    env = project_b.environments.get(tier="development")
    theirs = row_create(
        org=org_b, actor=outsider, approved_models=[make_entry(snapshot)], project=project_b,
        environment=env, caller=caller_b, allowed_actions=["chat"], data_classes=["internal"],
        business_reason="x", monthly_budget="1", **{f: outsider for f in (
            "app_owner", "engineering_owner", "finance_owner", "evidence_owner",
            "cutoff_owner")})
    client = api(owner)
    assert client.get(BASE + f"rows/{theirs.public_id}/").status_code == 404
    assert client.patch(BASE + f"rows/{theirs.public_id}/", {"business_reason": "y"},
                        format="json").status_code == 404


def test_list_filters_by_status_project_and_environment(people, make_row, project_a):
    make_row()
    submitted = make_row(S.SUBMITTED)
    client = api(people["auditor"])
    data = client.get(BASE + "rows/", {"status": "submitted"}).json()
    assert [r["id"] for r in data["results"]] == [str(submitted.public_id)]
    staging = project_a.environments.get(tier="staging")
    assert client.get(BASE + "rows/", {"environment": str(staging.public_id)}).json()[
        "count"] == 0
    assert client.get(BASE + "rows/", {"project": str(project_a.public_id)}).json()[
        "count"] == 2
    assert client.get(BASE + "rows/", {"status": "bogus"}).status_code == 400


def test_list_refuses_another_orgs_project_as_filter(people, project_b):
    response = api(people["auditor"]).get(BASE + "rows/", {"project": str(project_b.public_id)})
    assert response.status_code == 400


@pytest.mark.parametrize("count", [3, 30])
def test_row_list_query_count_is_constant(people, make_row, count,
                                          django_assert_num_queries):
    for _ in range(count):
        row = make_row()
    sign_row = make_row(S.IN_REVIEW)
    sign(row.org, sign_row, people, SignOff.Role.SECURITY)
    # membership+org resolve, count, rows with every foreign key (one join), approved
    # models with their snapshots, signatures
    with django_assert_num_queries(5):
        response = api(people["auditor"]).get(BASE + "rows/", {"page_size": 100})
    assert response.json()["count"] == count + 1


# Bad input over the API


def _bad(snapshot, org_a):
    stale = make_entry(make_snapshot(org_a, day=date(2026, 10, 1), sha="o", source="old"),
                       "gpt-old")
    make_snapshot(org_a, day=date(2026, 10, 2), sha="p", source="old")
    embed = make_entry(snapshot, "embed", families=("embeddings",))
    today = timezone.localdate()
    return {
        "unknown model": ({"approved_models": ["3f1c1e4e-0000-4000-8000-000000000000"]},
                          "approved_models", "Unknown model"),
        "model not in the current catalog": ({"approved_models": [str(stale.public_id)]},
                                             "approved_models", "not in the current catalog"),
        "action the model cannot serve": ({"approved_models": [str(embed.public_id)]},
                                          "allowed_actions", "cannot serve chat"),
        "unknown action": ({"allowed_actions": ["deployment"]}, "allowed_actions",
                           "Unknown value"),
        "negative budget": ({"monthly_budget": "-5"}, "monthly_budget", "negative"),
        "thresholds out of order": ({"alert_thresholds": [80, 50]}, "alert_thresholds",
                                    "rising"),
        "renewal in the past": ({"renewal_date": (today - timedelta(days=2)).isoformat()},
                                "renewal_date", "future"),
        "renewal beyond the maximum": ({"renewal_date": (today + timedelta(days=400))
                                        .isoformat()}, "renewal_date", "renew within"),
        "another org's caller": (None, "caller", "not exist"),
        "missing owner": ({"cutoff_owner": ...}, "cutoff_owner", "required"),
    }


@pytest.mark.parametrize("case", ["unknown model", "model not in the current catalog",
                                  "action the model cannot serve", "unknown action",
                                  "negative budget", "thresholds out of order",
                                  "renewal in the past", "renewal beyond the maximum",
                                  "another org's caller", "missing owner"])
def test_bad_input_is_a_400_field_error_and_saves_nothing(people, org_a, snapshot, body,
                                                          caller_b, case):
    overrides, field, message = _bad(snapshot, org_a)[case]
    if overrides is None:
        overrides = {"caller": str(caller_b.public_id)}
    before = Counts(org_a)
    response = api(people["requester"]).post(BASE + "rows/", body(**overrides),
                                             format="json")
    assert response.status_code == 400
    errors = response.json()
    assert field in errors, errors
    assert message.lower() in " ".join(errors[field]).lower()
    assert not rows(org_a).exists() and before.new_audit() == []


def test_fallback_cycle_is_a_400(people, make_row):
    a, b = make_row(), make_row()
    client = api(people["requester"])
    assert client.patch(BASE + f"rows/{b.public_id}/", {"fallback_row": str(a.public_id)},
                        format="json").status_code == 200
    response = client.patch(BASE + f"rows/{a.public_id}/",
                            {"fallback_row": str(b.public_id)}, format="json")
    assert response.status_code == 400 and "cycle" in response.json()["fallback_row"][0]
    a.refresh_from_db()
    assert a.fallback_row is None and a.version == 1


def test_fallback_to_itself_is_a_400(people, make_row):
    a = make_row()
    response = api(people["requester"]).patch(BASE + f"rows/{a.public_id}/", {
        "fallback_row": str(a.public_id)}, format="json")
    assert response.status_code == 400 and "own fallback" in response.json()["fallback_row"][0]


# Editing


def test_patch_bumps_the_version_and_voids_signatures(people, make_row, org_a):
    row = make_row(S.IN_REVIEW)
    sign(org_a, row, people, SignOff.Role.SECURITY)
    PolicyRow.objects.filter(pk=row.pk).update(status=S.CHANGES_REQUESTED)
    response = api(people["requester"]).patch(BASE + f"rows/{row.public_id}/",
                                              {"monthly_budget": "900"}, format="json")
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["version"] == 2 and data["monthly_budget"] == "900.00"
    [signoff] = data["signoffs"]
    assert signoff["voided"] is True and "version 2" in signoff["void_reason"]


def test_patch_of_a_row_in_review_is_409(people, make_row):
    row = make_row(S.IN_REVIEW)
    response = api(people["requester"]).patch(BASE + f"rows/{row.public_id}/",
                                              {"monthly_budget": "900"}, format="json")
    assert response.status_code == 409 and "cannot be edited" in response.json()["detail"]


def test_patch_by_someone_else_is_403(people, make_row):
    row = make_row()
    response = api(people["finance"]).patch(BASE + f"rows/{row.public_id}/",
                                            {"monthly_budget": "900"}, format="json")
    assert response.status_code == 403


# Workflow moves


def test_submit_then_screen_over_the_api(people, make_row, org_a):
    row = make_row()
    response = api(people["requester"]).post(BASE + f"rows/{row.public_id}/submit/")
    assert response.status_code == 200 and response.json()["status"] == "submitted"
    response = api(people["admin"]).post(BASE + f"rows/{row.public_id}/screen/")
    assert response.status_code == 200 and response.json()["status"] == "screening"


def test_a_bad_move_is_409_with_the_reason(people, make_row):
    row = make_row()
    response = api(people["admin"]).post(BASE + f"rows/{row.public_id}/start-testing/")
    assert response.status_code == 409
    assert response.json()["detail"] == "Cannot start testing a row that is draft."
    assert PolicyRow.objects.get(pk=row.pk).status == S.DRAFT


def test_a_move_without_the_right_is_403(people, make_row):
    row = make_row(S.SUBMITTED)
    response = api(people["requester"]).post(BASE + f"rows/{row.public_id}/screen/")
    assert response.status_code == 403


def test_request_changes_needs_a_comment(people, make_row):
    row = make_row(S.IN_REVIEW)
    client = api(people["security"])
    url = BASE + f"rows/{row.public_id}/request-changes/"
    response = client.post(url, {}, format="json")
    assert response.status_code == 400 and "comment" in response.json()
    response = client.post(url, {"comment": "Name a cheaper fallback"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "changes_requested"


def test_suspend_and_resume(people, make_row):
    row = make_row(S.ACTIVE)
    client = api(people["security"])
    assert client.post(BASE + f"rows/{row.public_id}/suspend/", {"reason": "Incident 42"},
                       format="json").json()["status"] == "suspended"
    assert client.post(BASE + f"rows/{row.public_id}/resume/").json()["status"] == "active"


@pytest.mark.parametrize("verb", ["submit", "screen", "start-testing", "start-evidence",
                                  "send-to-review", "request-changes", "reject", "suspend",
                                  "resume", "revoke", "mark-renewal-due", "expire"])
def test_every_verb_has_a_route_and_refuses_a_bad_move(people, make_row, verb):
    row = make_row(S.EXPIRED)  # nothing leaves expired
    # Suspending is security's alone; platform (the owner) makes every other move.
    actor = people["security" if verb in ("suspend", "resume") else "owner"]
    response = api(actor).post(BASE + f"rows/{row.public_id}/{verb}/",
                                         {"comment": "x", "reason": "x"}, format="json")
    assert response.status_code == 409, (verb, response.json())


# Sign-offs and the inbox


def test_signoff_over_the_api(people, make_row):
    row = make_row(S.IN_REVIEW)
    response = api(people["security"]).post(BASE + f"rows/{row.public_id}/signoffs/", {
        "role": "security", "decision": "approve"}, format="json")
    assert response.status_code == 200
    [signoff] = response.json()["signoffs"]
    assert (signoff["role"], signoff["decision"], signoff["voided"]) == (
        "security", "approve", False)
    assert signoff["signer"] == "security@acme.test" and signoff["row_version"] == 1


def test_third_approval_activates(people, make_row, org_a):
    row = make_row(S.IN_REVIEW)
    sign(org_a, row, people, SignOff.Role.SECURITY)
    sign(org_a, row, people, SignOff.Role.FINANCE)
    response = api(people["app_owner"]).post(BASE + f"rows/{row.public_id}/signoffs/", {
        "role": "app_owner", "decision": "approve"}, format="json")
    assert response.json()["status"] == "active"


def test_requester_cannot_sign_security_over_the_api(people, make_row):
    row = make_row(S.IN_REVIEW)
    response = api(people["requester"]).post(BASE + f"rows/{row.public_id}/signoffs/", {
        "role": "security", "decision": "approve"}, format="json")
    assert response.status_code == 403


def test_signing_a_draft_is_409(people, make_row):
    row = make_row()
    response = api(people["security"]).post(BASE + f"rows/{row.public_id}/signoffs/", {
        "role": "security", "decision": "approve"}, format="json")
    assert response.status_code == 409


def test_reject_without_comment_is_400(people, make_row):
    row = make_row(S.IN_REVIEW)
    response = api(people["finance"]).post(BASE + f"rows/{row.public_id}/signoffs/", {
        "role": "finance", "decision": "reject"}, format="json")
    assert response.status_code == 400 and "comment" in response.json()


def test_inbox_lists_what_waits_for_me(people, make_row):
    row = make_row(S.IN_REVIEW)
    data = api(people["security"]).get(BASE + "inbox/").json()
    assert [(i["row"]["id"], i["roles"]) for i in data] == [(str(row.public_id), ["security"])]
    assert api(people["auditor"]).get(BASE + "inbox/").json() == []


@pytest.mark.parametrize("count", [3, 30])
def test_inbox_query_count_is_constant(people, make_row, count, django_assert_num_queries):
    for _ in range(count):
        make_row(S.IN_REVIEW)
    # membership+org resolve, then signoff_inbox's three: rows, live signatures, grants
    with django_assert_num_queries(4):
        data = api(people["finance"]).get(BASE + "inbox/").json()
    assert len(data) == count


# Deny rules


def test_security_adds_and_lifts_a_deny_rule(people, org_a):
    client = api(people["security"])
    response = client.post(BASE + "deny-rules/", {
        "model_id": "gpt-image", "reason": "No image routes", "owner":
        str(people["security"].public_id)}, format="json")
    assert response.status_code == 201, response.json()
    rule_id = response.json()["id"]
    assert [r["id"] for r in client.get(BASE + "deny-rules/").json()["results"]] == [rule_id]
    response = client.post(BASE + f"deny-rules/{rule_id}/deactivate/",
                           {"reason": "Legal approved"}, format="json")
    assert response.status_code == 200 and response.json()["active"] is False
    assert client.get(BASE + "deny-rules/").json()["count"] == 0
    assert client.get(BASE + "deny-rules/", {"state": "all"}).json()["count"] == 1


def test_member_cannot_add_deny_rules(people, org_a):
    response = api(people["requester"]).post(BASE + "deny-rules/", {
        "action": "image", "reason": "x", "owner": str(people["requester"].public_id)},
        format="json")
    assert response.status_code == 403 and not DenyRule.objects.for_org(org_a).exists()


def test_deny_rule_needs_something_to_deny(people):
    response = api(people["security"]).post(BASE + "deny-rules/", {
        "reason": "x", "owner": str(people["security"].public_id)}, format="json")
    assert response.status_code == 400 and "model_id" in response.json()


def test_foreign_deny_rule_is_404(owner, outsider, org_b):
    from approvals.services import deny_rule_create

    theirs = deny_rule_create(org=org_b, actor=outsider, reason="x", owner=outsider,
                              action="image")
    response = api(owner).post(BASE + f"deny-rules/{theirs.public_id}/deactivate/",
                               {"reason": "x"}, format="json")
    assert response.status_code == 404


# Schema


def test_rows_api_is_in_the_openapi_schema():
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    assert {"/api/v1/o/{org_slug}/rows/", "/api/v1/o/{org_slug}/rows/{public_id}/",
            "/api/v1/o/{org_slug}/rows/{public_id}/submit/",
            "/api/v1/o/{org_slug}/rows/{public_id}/signoffs/", "/api/v1/o/{org_slug}/inbox/",
            "/api/v1/o/{org_slug}/deny-rules/"} <= set(paths)
    assert "RowWrite" in str(paths["/api/v1/o/{org_slug}/rows/"]["post"]["requestBody"])


def test_deny_rule_naming_nothing_in_the_catalog_is_created_with_a_warning(people, org_a,
                                                                           chat_model):
    client = api(people["security"])
    response = client.post(BASE + "deny-rules/", {
        "platform": " OpenAI ", "model_id": "GPT-Chatt", "reason": "Typo on purpose",
        "owner": str(people["security"].public_id)}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["platform"], body["model_id"]) == ("openai", "gpt-chatt")
    assert body["warnings"] == [
        "This rule matches no entry of the current catalog (litellm 2026-11-01): no model "
        "gpt-chatt on platform openai. It was created and denies matching calls, but check "
        "the spelling."]
    assert DenyRule.objects.for_org(org_a).get(public_id=body["id"]).active


def test_deny_rule_on_a_catalog_model_has_no_warning(people, chat_model):
    response = api(people["security"]).post(BASE + "deny-rules/", {
        "model_id": "OpenAI/GPT-Chat", "reason": "Under review",
        "owner": str(people["security"].public_id)}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["platform"], body["model_id"], body["warnings"]) == (
        "openai", "gpt-chat", [])
