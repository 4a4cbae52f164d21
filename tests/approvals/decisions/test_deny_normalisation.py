"""Deny rules match however a model is spelled (issue 13, section 4): case, stray spaces,
a platform-only rule, a qualified id typed into the model field, and ids that contain
"/". Each case goes through POST /api/v1/decisions with a team key, against a live row
that allows every one of these models until the rule is added."""

import pytest
from rest_framework.test import APIClient

from approvals.services import deny_rule_create
from tests.approvals.conftest import make_entry

pytestmark = pytest.mark.django_db

# (platform, model id) as the catalog spells them.
CATALOG = [("azure", "gpt-4o"), ("openrouter", "meta-llama/llama-3-70b"),
           ("bedrock", "anthropic.claude-3"), ("mistral", "mistral-large")]


@pytest.fixture
def wide_row(live_row, snapshot):
    """A live row for caller A's key approving every model of CATALOG."""
    return live_row(models=[make_entry(snapshot, m, platform=p) for p, m in CATALOG])


def decide(secret, model):
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    response = http.post("/api/v1/decisions", {
        "model": model, "action": "chat", "data_class": "internal",
        "environment": "production"}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


CASES = [
    # (rule platform, rule model field, requested model)
    pytest.param("", "mistral-large", "Mistral-Large", id="case: rule lower, request mixed"),
    pytest.param("", "MISTRAL-Large", "mistral/mistral-large", id="case: rule upper"),
    pytest.param("Mistral", "mistral-large", "MISTRAL/Mistral-Large", id="case: platform"),
    pytest.param("", "  gpt-4o\t", "gpt-4o", id="whitespace around the rule"),
    pytest.param("", "gpt-4o", "  azure/gpt-4o ", id="whitespace around the request"),
    pytest.param("AZURE", "", "azure/gpt-4o", id="platform-only rule, qualified request"),
    pytest.param("azure", "", "GPT-4o", id="platform-only rule, bare request"),
    pytest.param("", "azure/gpt-4o", "gpt-4o", id="qualified id in model field, bare request"),
    pytest.param("", "Azure/GPT-4o", "azure/gpt-4o", id="qualified id in model field"),
    pytest.param("", "openrouter/meta-llama/llama-3-70b", "meta-llama/llama-3-70b",
                 id="id with '/': qualified rule, bare request"),
    pytest.param("", "meta-llama/llama-3-70b", "OpenRouter/Meta-Llama/Llama-3-70B",
                 id="id with '/': bare rule, qualified request"),
    pytest.param("openrouter", "", "openrouter/meta-llama/llama-3-70b",
                 id="id with '/': platform-only rule"),
    pytest.param("", "bedrock/anthropic.claude-3", "anthropic.claude-3",
                 id="bedrock id: qualified rule, bare request"),
    pytest.param("Bedrock", "Anthropic.Claude-3", "bedrock/anthropic.claude-3",
                 id="bedrock id: platform and model in any case"),
]


@pytest.mark.parametrize(("platform", "model_id", "requested"), CASES)
def test_deny_rule_stops_every_spelling_of_its_model(platform, model_id, requested, secret,
                                                     wide_row, org_a, people):
    # Without the rule the row allows the call: the deny below is the rule's doing.
    assert decide(secret, requested)["decision"] == "allow"
    rule = deny_rule_create(org=org_a, actor=people["security"], platform=platform,
                            model_id=model_id, reason="Vendor terms under review",
                            owner=people["security"])
    answer = decide(secret, requested)
    assert (answer["decision"], answer["reasons"], answer["rule"]) == (
        "deny", ["denied_by_rule"], str(rule.public_id))
    assert answer["message"] == (
        f"Denied by org deny rule {rule.public_id}: Vendor terms under review")


@pytest.mark.parametrize(("platform", "model_id", "requested"), [
    pytest.param("azure", "", "openrouter/meta-llama/llama-3-70b", id="other platform"),
    pytest.param("", "openrouter/meta-llama/llama-3-70b", "bedrock/anthropic.claude-3",
                 id="other model"),
    pytest.param("bedrock", "gpt-4o", "azure/gpt-4o", id="same model, other platform"),
    pytest.param("", "llama-3-70b-instruct", "meta-llama/llama-3-70b", id="longer id"),
])
def test_deny_rule_leaves_other_models_alone(platform, model_id, requested, secret, wide_row,
                                             org_a, people):
    deny_rule_create(org=org_a, actor=people["security"], platform=platform,
                     model_id=model_id, reason="Not this one", owner=people["security"])
    answer = decide(secret, requested)
    assert (answer["decision"], answer["reasons"]) == ("allow", ["allow"])
