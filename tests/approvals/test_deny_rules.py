"""Org deny rules: admins and security define them, with a reason and an owner."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from approvals.models import DenyRule
from approvals.selectors import deny_rule_list
from approvals.services import deny_rule_create, deny_rule_deactivate
from tests.approvals.conftest import Counts, make_entry


@pytest.mark.parametrize(("role", "allowed"), [
    ("owner", True), ("admin", True), ("security", True), ("finance", False),
    ("member", False), ("auditor", False),
])
def test_who_manages_deny_rules(role, allowed, org_a, personas):
    actor = personas[role]
    before = Counts(org_a)
    if allowed:
        rule = deny_rule_create(org=org_a, actor=actor, model_id="gpt-image", action="image",
                                reason="No image rights review", owner=actor)
        [audit] = before.new_audit()
        assert audit.action == "approval.deny_rule_created"
        assert audit.object_id == str(rule.public_id)
        assert [e.kind for e in before.new_events()] == ["approval.deny_rule_created"]
    else:
        with pytest.raises(PermissionDenied):
            deny_rule_create(org=org_a, actor=actor, data_class="secrets", reason="No",
                             owner=actor)
        assert not DenyRule.objects.exists() and before.new_audit() == []


def test_outsider_cannot_create(org_a, outsider):
    with pytest.raises(PermissionDenied):
        deny_rule_create(org=org_a, actor=outsider, data_class="secrets", reason="x",
                         owner=outsider)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({}, "model_id"),
    ({"platform": "azure/eu", "model_id": "gpt-4o"}, "platform"),
    ({"data_class": "secrets", "reason": ""}, "reason"),
    ({"action": "teleport"}, "action"),
    ({"data_class": "secrets", "owner": None}, "owner"),
])
def test_bad_rules_are_field_errors(kwargs, field, org_a, personas):
    security = personas["security"]
    args = {"reason": "Because", "owner": security, **kwargs}
    with pytest.raises(ValidationError) as exc:
        deny_rule_create(org=org_a, actor=security, **args)
    assert field in exc.value.message_dict


def test_scope_must_be_this_org_and_consistent(org_a, personas, project_a, project_b,
                                               outsider):
    security = personas["security"]
    with pytest.raises(ValidationError) as exc:
        deny_rule_create(org=org_a, actor=security, data_class="secrets", reason="x",
                         owner=security, project=project_b)
    assert "project" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        deny_rule_create(org=org_a, actor=security, data_class="secrets", reason="x",
                         owner=outsider)
    assert "owner" in exc.value.message_dict
    production = project_a.environments.get(tier="production")
    rule = deny_rule_create(org=org_a, actor=security, data_class="customer_pii",
                            reason="No PII in production", owner=security,
                            project=project_a, environment=production)
    assert (rule.project, rule.environment) == (project_a, production)


def test_deactivate_keeps_the_rule_and_audits(org_a, personas):
    security = personas["security"]
    rule = deny_rule_create(org=org_a, actor=security, model_id="gpt-x", reason="Retired",
                            owner=security)
    assert list(deny_rule_list(org=org_a)) == [rule]
    before = Counts(org_a)
    with pytest.raises(ValidationError):
        deny_rule_deactivate(org=org_a, actor=security, rule=rule, reason="")
    with pytest.raises(PermissionDenied):
        deny_rule_deactivate(org=org_a, actor=personas["member"], rule=rule, reason="mine")
    rule = deny_rule_deactivate(org=org_a, actor=personas["admin"], rule=rule,
                                reason="Model re-reviewed")
    assert not rule.active and rule.deactivated_at is not None
    [audit] = before.new_audit()
    assert audit.action == "approval.deny_rule_deactivated"
    assert list(deny_rule_list(org=org_a)) == []
    assert list(deny_rule_list(org=org_a, active=None)) == [rule]
    with pytest.raises(ValidationError):
        deny_rule_deactivate(org=org_a, actor=security, rule=rule, reason="again")


def test_owner_of_active_deny_rule_cannot_leave(org_a, personas):
    from orgs.services import membership_remove

    deny_rule_create(org=org_a, actor=personas["admin"], data_class="secrets",
                     reason="Never", owner=personas["member"])
    with pytest.raises(ValidationError, match="deny rules"):
        membership_remove(org=org_a, actor=personas["owner"], membership=personas["member"])


def test_deny_rule_list_is_org_scoped(org_a, org_b, personas, outsider):
    deny_rule_create(org=org_b, actor=outsider, data_class="secrets", reason="B",
                     owner=outsider)
    assert list(deny_rule_list(org=org_a)) == []


@pytest.mark.parametrize(("platform", "model_id", "stored"), [
    (" Azure ", " GPT-4o ", ("azure", "gpt-4o")),
    ("", "Azure/GPT-4o", ("azure", "gpt-4o")),
    ("", "openrouter/Meta-Llama/Llama-3-70B", ("openrouter", "meta-llama/llama-3-70b")),
    # No catalog platform "meta-llama": the id keeps its "/".
    ("", "Meta-Llama/Llama-3-70B", ("", "meta-llama/llama-3-70b")),
    ("BEDROCK", "", ("bedrock", "")),
])
def test_rule_identities_are_stored_normalised(platform, model_id, stored, org_a, personas,
                                               snapshot):
    make_entry(snapshot, "gpt-4o", platform="azure")
    make_entry(snapshot, "meta-llama/llama-3-70b", platform="OpenRouter")
    security = personas["security"]
    rule = deny_rule_create(org=org_a, actor=security, platform=platform, model_id=model_id,
                            reason="Review", owner=security)
    rule.refresh_from_db()
    assert (rule.platform, rule.model_id) == stored


def test_rule_on_a_platform_missing_from_the_catalog_warns_but_is_created(org_a, personas,
                                                                          snapshot):
    security = personas["security"]
    rule = deny_rule_create(org=org_a, actor=security, platform="Vertex", reason="Not yet",
                            owner=security)
    assert rule.warnings == [
        "This rule matches no entry of the current catalog (litellm 2026-11-01): no "
        "platform vertex. It was created and denies matching calls, but check the spelling."]
    assert DenyRule.objects.for_org(org_a).filter(platform="vertex", active=True).exists()


def test_rule_without_any_catalog_warns(org_a, personas):
    security = personas["security"]
    rule = deny_rule_create(org=org_a, actor=security, model_id="gpt-4o", reason="x",
                            owner=security)
    assert rule.warnings == [
        "This rule matches no entry of the catalog (none imported): no model gpt-4o on any "
        "platform. It was created and denies matching calls, but check the spelling."]


def test_rule_on_an_action_only_has_no_catalog_warning(org_a, personas, snapshot):
    security = personas["security"]
    rule = deny_rule_create(org=org_a, actor=security, action="image", reason="x",
                            owner=security)
    assert rule.warnings == []


def test_migration_normalises_rules_stored_before(org_a, org_b, personas, snapshot):
    from importlib import import_module

    from django.apps import apps
    migration = import_module("approvals.migrations.0013_normalise_deny_rule_identities")
    make_entry(snapshot, "gpt-4o", platform="Azure")
    typed = [(" AZURE ", "GPT-4o"), ("", "Azure/GPT-4o"), ("", "Meta-Llama/Llama-3")]
    rules = [DenyRule.objects.create(org=org_a, platform=p, model_id=m, reason="old")
             for p, m in typed]
    # Org B has no azure in its catalog: its qualified-looking id stays whole.
    other = DenyRule.objects.create(org=org_b, model_id="Azure/GPT-4o", reason="old")
    migration.normalise_rules(apps, None)
    stored = [DenyRule.objects.values_list("platform", "model_id").get(pk=r.pk)
              for r in [*rules, other]]
    assert stored == [("azure", "gpt-4o"), ("azure", "gpt-4o"), ("", "meta-llama/llama-3"),
                      ("", "azure/gpt-4o")]
