"""The HTTP face: team credentials only, field-level 400s, the answer's shape, the batch
form, org isolation, and the Python client against a live server."""

import pytest
from rest_framework.test import APIClient

from approvals.decisions import client
from approvals.decisions.api import MAX_BATCH
from orgs import services as org_services
from tests.approvals.conftest import make_entry, make_snapshot
from tests.factories import CallerFactory, MembershipFactory, ProjectFactory
from tests.projects.conftest import make_key

pytestmark = pytest.mark.django_db
BODY = {"model": "gpt-chat", "action": "chat", "data_class": "internal",
        "environment": "production"}


def api(secret=None):
    http = APIClient()
    if secret:
        http.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return http


def test_allow_answer_shape(secret, live_row):
    row = live_row()
    response = api(secret).post("/api/v1/decisions", BODY, format="json")
    assert response.status_code == 200
    assert response.json() == {
        "decision": "allow", "reasons": ["allow"], "message": f"Allowed by row {row.public_id}.",
        "row": str(row.public_id), "rule": None,
        "remaining_budget": {"daily": "40.00", "monthly": "500.00"}, "fallbacks": [],
        "warnings": []}


def test_deny_answer_for_an_unknown_or_bad_credential(secret, live_row):
    live_row()
    response = api("gvk_live_" + "0" * 38).post("/api/v1/decisions", BODY, format="json")
    assert response.status_code == 401  # not even a well-formed key
    response = api(secret).post("/api/v1/decisions", {**BODY, "environment": "staging"},
                                format="json")
    assert response.json()["decision"] == "deny"
    assert response.json()["reasons"] == ["wrong_environment"]


def test_personal_tokens_sessions_and_no_header_get_no_decisions(personas, people, live_row):
    live_row()
    user = personas["owner"].user
    _, personal = org_services.personal_token_create(user=user, name="script", days=30)
    assert api(personal).post("/api/v1/decisions", BODY, format="json").status_code == 401
    session = APIClient()
    session.force_login(user)
    assert session.post("/api/v1/decisions", BODY, format="json").status_code == 401
    assert api().post("/api/v1/decisions", BODY, format="json").status_code == 401


def test_bad_bodies_get_field_level_errors(secret):
    response = api(secret).post("/api/v1/decisions", {"model": "", "action": "fly"},
                                format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"model", "action", "data_class", "environment"}
    response = api(secret).post("/api/v1/decisions/batch", {"requests": []}, format="json")
    assert response.status_code == 400 and "requests" in response.json()
    response = api(secret).post("/api/v1/decisions/batch",
                                {"requests": [BODY] * (MAX_BATCH + 1)}, format="json")
    assert response.status_code == 400 and "requests" in response.json()


def test_batch_answers_in_order(secret, live_row):
    live_row()
    response = api(secret).post("/api/v1/decisions/batch", {"requests": [
        BODY, {**BODY, "action": "embeddings"}, {**BODY, "model": "openai/gpt-chat"}]},
        format="json")
    assert response.status_code == 200
    assert [d["reasons"] for d in response.json()["decisions"]] == [
        ["allow"], ["no_matching_row"], ["allow"]]


def test_another_orgs_key_never_sees_this_orgs_rows(org_b, live_row, secret):
    live_row()
    admin = MembershipFactory(org=org_b, role="owner")
    project = ProjectFactory(org=org_b)
    env = project.environments.get(tier="production")
    caller = CallerFactory(project=project, owner=admin)
    make_entry(make_snapshot(org_b), "gpt-chat")
    _, other_secret = make_key(org_b, admin, env, caller)
    response = api(other_secret).post("/api/v1/decisions", BODY, format="json")
    assert response.json()["reasons"] == ["no_matching_row"]
    assert api(secret).post("/api/v1/decisions", BODY, format="json").json()["decision"] == \
        "allow"


def test_python_client_against_a_live_server(live_server, secret, live_row):
    row = live_row()
    decision = client.decide(live_server.url, secret, model="gpt-chat", action="chat",
                             data_class="internal", environment="production")
    assert decision.allow and decision.row == str(row.public_id)
    assert decision.remaining_budget == {"daily": "40.00", "monthly": "500.00"}
    batch = client.decide_batch(live_server.url, secret, [
        {**BODY, "data_class": "customer_pii"}, BODY])
    assert [d.allow for d in batch] == [False, True]
    with pytest.raises(client.DecisionError, match="401"):
        client.decide(live_server.url, "nope", model="m", action="chat",
                      data_class="internal", environment="production")
    with pytest.raises(client.DecisionError, match="did not answer"):
        client.decide("http://127.0.0.1:9", secret, model="m", action="chat",
                      data_class="internal", environment="production", timeout=0.5)


@pytest.mark.parametrize("body", [
    {**BODY, "model": "  gpt-chat  "},                  # trimmed, as the serializer does
    {**BODY, "unknown": "ignored"},                      # extra fields are ignored
    {**BODY, "environment": "staging"},                  # a deny
    {**BODY, "model": "gpt-missing"},
])
def test_the_fast_path_answers_as_the_drf_view(secret, live_row, body, rf):
    """Well-formed requests skip DRF's layers; the answer is the DRF view's, byte for
    byte in meaning."""
    import json

    from approvals.decisions.api import DecisionView

    live_row()
    fast = api(secret).post("/api/v1/decisions", body, format="json")
    request = rf.post("/api/v1/decisions", json.dumps(body), content_type="application/json",
                      HTTP_AUTHORIZATION=f"Bearer {secret}")
    slow = DecisionView.as_view()(request)
    slow.render()
    assert fast.status_code == slow.status_code == 200
    assert fast.json() == json.loads(slow.content)


@pytest.mark.parametrize("body", [
    {**BODY, "model": None}, {**BODY, "model": ""}, {**BODY, "model": "x" * 301},
    {**BODY, "action": "dance"}, {**BODY, "model": "gpt\x00chat"}, [BODY], "text",
])
def test_anything_malformed_gets_the_field_level_400(secret, live_row, body):
    live_row()
    response = api(secret).post("/api/v1/decisions", body, format="json")
    assert response.status_code == 400, response.content
    if isinstance(body, dict):
        [field] = [k for k in BODY if body.get(k) != BODY[k]]
        assert field in response.json()


def test_a_form_encoded_body_is_not_the_fast_paths(secret, live_row):
    live_row()
    response = api(secret).post("/api/v1/decisions", BODY)  # multipart
    assert response.status_code in (200, 415)
    response = api(secret).post("/api/v1/decisions/batch", {"requests": [BODY] * 101},
                                format="json")
    assert response.status_code == 400 and "requests" in response.json()


# Issue 12, section 2: failed team-key authentications are throttled per client address.
def test_failed_key_authentications_are_throttled_per_address(settings, secret, live_row,
                                                              frozen_rate_clock):
    from projects.secrets import LIVE, new_secret

    settings.FAILED_TOKEN_AUTH_RATE = "3/m"
    live_row()
    unknown = new_secret(LIVE)  # well-formed, checksum and all, but nobody holds it
    answers = [api(unknown).post("/api/v1/decisions", BODY, format="json")
               for _ in range(3)]
    assert [a.json()["reasons"] for a in answers] == [["credential_unknown"]] * 3

    refused = api(unknown).post("/api/v1/decisions", BODY, format="json")
    assert refused.status_code == 429
    assert refused.json()["detail"].startswith("Too many failed token authentications")
    assert 1 <= int(refused["Retry-After"]) <= 60
    # The slow (DRF) path and a malformed key answer the same.
    slow = api(unknown).post("/api/v1/decisions/batch", {"requests": [BODY]}, format="json")
    assert slow.status_code == 429 and slow["Retry-After"]
    assert api("gvk_live_x").post("/api/v1/decisions", BODY, format="json").status_code == 429
    # The address is throttled as a whole, as failed sign-ins are; another one is not.
    assert api(secret).post("/api/v1/decisions", BODY, format="json").status_code == 429
    other = api(secret).post("/api/v1/decisions", BODY, format="json",
                             REMOTE_ADDR="198.51.100.7")
    assert other.status_code == 200 and other.json()["decision"] == "allow"


def test_a_wrong_environment_is_not_a_failed_authentication(settings, secret, live_row,
                                                            frozen_rate_clock):
    settings.FAILED_TOKEN_AUTH_RATE = "2/m"
    live_row()
    for _ in range(4):
        response = api(secret).post("/api/v1/decisions", {**BODY, "environment": "staging"},
                                    format="json")
        assert response.json()["reasons"] == ["wrong_environment"]
