"""The policy linter: every rule of PRODUCT.md "Rules the product enforces" fires on a bad
matrix with its message and fix, a clean matrix has no findings, and manage.py lint_policy
reports them (text and json) with the right exit code, in a fixed number of queries.

The services refuse most of these states, which is the point: the linter exists for rows
imported or edited before a rule existed. So the bad matrix starts from rows made by
row_create and then breaks each one straight in the database (queryset update()), as an
import or an old edit would have left it.
"""

import io
import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from approvals.lint import ERROR, RULES, WARNING, lint_org, lint_row
from approvals.models import MAX_RENEWAL_DAYS, PolicyRow, SignOff
from orgs.roles import Role
from projects.keys import key_create
from tests.approvals.conftest import make_entry
from tests.conftest import ROLES
from tests.factories import CallerFactory, MembershipFactory, ProjectFactory

S = PolicyRow.Status


def approve_by_three(row, people):
    """Live approvals of the current version by security, finance and the app owner, as
    signoff_record leaves an active row (written directly: the rows are put in state)."""
    for role, who in ((SignOff.Role.SECURITY, people["security"]),
                      (SignOff.Role.FINANCE, people["finance"]),
                      (SignOff.Role.APP_OWNER, people["app_owner"])):
        SignOff.objects.create(org=row.org, row=row, role=role, signer=who,
                               signer_label=who.user.email, decision=SignOff.Decision.APPROVE,
                               row_version=row.version, content_hash=row.content_hash())


def broken(row, **fields):
    """Put the row into a state the services refuse, as an import would."""
    PolicyRow.objects.filter(pk=row.pk).update(**fields)
    row.refresh_from_db()
    return row


@pytest.fixture
def mini_model(snapshot):
    # A second openai model, so approving gpt-chat alone is not "all of openai".
    return make_entry(snapshot, "gpt-mini")


@pytest.fixture
def active_row(make_row, people, mini_model):
    """make_active(**overrides): an active production row with three proper approvals."""
    def make(**overrides):
        row = make_row(S.ACTIVE, **overrides)
        approve_by_three(row, people)
        return row
    return make


@pytest.fixture
def staging(project_a):
    return project_a.environments.get(tier="staging")


@pytest.fixture
def bad(org_a, project_a, production, staging, caller_a, owner, people, chat_model,
        mini_model, make_row, active_row):
    """The bad matrix: {name: row}, each row breaking the rules listed in EXPECTED."""
    other_caller = CallerFactory(project=project_a, owner=owner, name="batch-job")
    staging_key, _ = key_create(org=org_a, actor=owner, project=project_a,
                                environment=staging, caller=caller_a, name="staging key")
    other_key, _ = key_create(org=org_a, actor=owner, project=project_a,
                              environment=production, caller=other_caller, name="batch key")
    draft_fallback = make_row(models=[mini_model])
    staging_fallback = active_row(environment=staging, models=[mini_model])
    gone = MembershipFactory(org=org_a, role=Role.MEMBER, user__email="gone@acme.test")
    rows = {
        "all_of_openai": active_row(models=[chat_model, mini_model]),
        "no_models": active_row(),
        "no_actions": active_row(),
        "model_cannot_serve": active_row(),
        "fallback_not_active": active_row(),
        "fallback_other_caller": active_row(),
        "draft_fallback_pending": make_row(fallback_row=draft_fallback),
        "key_of_other_caller": active_row(),
        "staging_key_in_production": active_row(),
        "renewal_missing": active_row(),
        "renewal_too_far": active_row(),
        "no_trigger": active_row(),
        "env_of_other_project": active_row(),
        "fallback_in_staging": active_row(),
        "self_approved": make_row(S.ACTIVE),
        "approved_by_nobody": make_row(S.RENEWAL_DUE),
        "owner_left": active_row(),
        "owner_deactivated": active_row(cutoff_owner=gone),
    }
    rows["no_models"].approved_models.clear()
    broken(rows["no_actions"], allowed_actions=[])
    # The services refuse an action the model cannot serve; an import could still write it.
    broken(rows["model_cannot_serve"], allowed_actions=["embeddings"])
    broken(rows["fallback_not_active"], fallback_row=draft_fallback)
    other_fallback = active_row(caller=other_caller, models=[mini_model])
    broken(rows["fallback_other_caller"], fallback_row=other_fallback)
    broken(rows["key_of_other_caller"], api_key=other_key)
    broken(rows["staging_key_in_production"], api_key=staging_key)
    broken(rows["renewal_missing"], renewal_date=None)
    broken(rows["renewal_too_far"],
           renewal_date=timezone.localdate() + timedelta(days=MAX_RENEWAL_DAYS + 1))
    broken(rows["no_trigger"], renewal_triggers=[])
    foreign_env = ProjectFactory(org=org_a, slug="elsewhere").environments.get(tier="staging")
    broken(rows["env_of_other_project"], environment=foreign_env)
    broken(rows["fallback_in_staging"], fallback_row=staging_fallback)
    for role in (SignOff.Role.SECURITY, SignOff.Role.FINANCE, SignOff.Role.APP_OWNER):
        requester = people["requester"]
        SignOff.objects.create(org=org_a, row=rows["self_approved"], role=role,
                               signer=requester, signer_label=requester.user.email,
                               decision=SignOff.Decision.APPROVE, row_version=1,
                               content_hash=rows["self_approved"].content_hash())
    broken(rows["owner_left"], engineering_owner=None)
    gone.user.is_active = False
    gone.user.save()
    return rows


# {row: {(rule, severity)}}: exactly what each bad row must report, and nothing else.
EXPECTED = {
    "all_of_openai": {("provider-wide-approval", ERROR)},
    "no_models": {("provider-wide-approval", ERROR)},
    "no_actions": {("model-without-action", ERROR)},
    "model_cannot_serve": {("model-without-action", WARNING)},
    "fallback_not_active": {("fallback-without-own-row", ERROR)},
    "fallback_other_caller": {("fallback-without-own-row", ERROR)},
    "draft_fallback_pending": {("fallback-without-own-row", WARNING)},
    "key_of_other_caller": {("key-shared", ERROR)},
    "staging_key_in_production": {("key-shared", ERROR),
                                  ("environments-share-row-or-quota", ERROR)},
    "renewal_missing": {("production-renewal-missing", ERROR)},
    "renewal_too_far": {("production-renewal-too-far", ERROR)},
    "no_trigger": {("production-without-trigger", ERROR)},
    # A staging environment of another project: not production, so no renewal rules.
    "env_of_other_project": {("environments-share-row-or-quota", ERROR)},
    "fallback_in_staging": {("fallback-without-own-row", ERROR),
                            ("environments-share-row-or-quota", ERROR)},
    "self_approved": {("requester-sole-approver", ERROR)},
    "approved_by_nobody": {("requester-sole-approver", ERROR)},
    "owner_left": {("owner-left-org", ERROR)},
    "owner_deactivated": {("owner-left-org", ERROR)},
}

# (row, rule, words of the message, words of the fix)
MESSAGES = [
    ("all_of_openai", "provider-wide-approval", "approves every openai model in the current "
     "litellm catalog (2 models)", "Keep only the openai models this caller uses"),
    ("no_models", "provider-wide-approval", "names no approved model",
     "Add the explicit catalog models"),
    ("no_actions", "model-without-action", "approves models but no action",
     "List the allowed actions"),
    ("model_cannot_serve", "model-without-action", "openai/gpt-chat can serve none of the "
     "row's actions (embeddings)", "Remove the model, or add an action it serves"),
    ("fallback_not_active", "fallback-without-own-row", "The fallback row is draft: calls "
     "that fall back would run without an approval of their own", "Request and approve a "
     "row for the fallback model"),
    ("fallback_other_caller", "fallback-without-own-row",
     "The fallback row is for another caller or environment", "or remove the fallback"),
    ("draft_fallback_pending", "fallback-without-own-row", "this row cannot go live until "
     "its fallback is active", "Request and approve a row for the fallback model"),
    ("key_of_other_caller", "key-shared", "'batch key' is bound to another caller than this "
     "row", "Issue a key (or workload identity) for this row's own project"),
    ("staging_key_in_production", "key-shared", "'staging key' is bound to another "
     "environment than this row", "name it on this row only"),
    ("staging_key_in_production", "environments-share-row-or-quota", "'staging key' belongs "
     "to another environment, so this row's calls and spend count against that "
     "environment's quota", "Give the production environment its own row, key and budget"),
    ("renewal_missing", "production-renewal-missing", "has no renewal date",
     f"Set a renewal date within {MAX_RENEWAL_DAYS} days"),
    ("renewal_too_far", "production-renewal-too-far", f"more than {MAX_RENEWAL_DAYS} days "
     "away", "Move the renewal date to"),
    ("no_trigger", "production-without-trigger", "has no renewal trigger",
     "Add at least one renewal trigger"),
    ("env_of_other_project", "environments-share-row-or-quota", "The environment 'staging' "
     "belongs to another project", "Give the staging environment its own row"),
    ("fallback_in_staging", "environments-share-row-or-quota", "The fallback row is in "
     "another environment", "Give the production environment its own row"),
    ("self_approved", "requester-sole-approver", "is active but was approved by its "
     "requester alone", "three different people"),
    ("approved_by_nobody", "requester-sole-approver", "is renewal due but was approved by "
     "nobody", "Suspend the row"),
    ("owner_left", "owner-left-org", "The engineering owner has left the organization",
     "Name a current member as engineering owner, or revoke the row"),
    ("owner_deactivated", "owner-left-org", "The cutoff owner (gone@acme.test) is no longer "
     "an active member", "Name a current member as cutoff owner"),
]


def by_row(findings):
    result = {}
    for f in findings:
        result.setdefault(f.row, set()).add((f.rule, f.severity))
    return result


def test_every_rule_is_exercised_by_the_bad_matrix():
    assert {rule for expected in EXPECTED.values() for rule, _ in expected} == set(RULES)
    assert {rule for _, rule, _, _ in MESSAGES} == set(RULES)


def test_each_bad_row_reports_exactly_its_rules(org_a, bad, django_assert_num_queries):
    # Every check on every path reads the preloaded snapshot: still five queries.
    with django_assert_num_queries(5):
        found = by_row(lint_org(org=org_a))
    for name, row in bad.items():
        assert found.pop(str(row.public_id), set()) == EXPECTED[name], name
    # The helper rows (fallbacks) are themselves clean.
    assert found == {}


@pytest.mark.parametrize(("name", "rule", "message", "fix"), MESSAGES,
                         ids=[f"{m[0]}-{m[1]}" for m in MESSAGES])
def test_each_rule_says_what_is_wrong_and_how_to_fix_it(org_a, bad, name, rule, message, fix):
    findings = [f for f in lint_row(org=org_a, row=bad[name]) if f.rule == rule]
    assert len(findings) == 1
    assert message in findings[0].message
    assert fix in findings[0].fix


def test_a_clean_matrix_has_no_findings(org_a, people, make_row, active_row, chat_model,
                                        mini_model, staging, project_a, caller_a, owner):
    fallback = active_row(models=[mini_model])
    key, _ = key_create(org=org_a, actor=owner, project=project_a, environment=staging,
                        caller=caller_a, name="staging key")
    active_row(fallback_row=fallback)
    make_row(S.IN_REVIEW, fallback_row=fallback)
    active_row(environment=staging, api_key=key, renewal_date=None, renewal_triggers=[])
    # The requester may sign as app owner when security and finance are others.
    row = make_row(S.ACTIVE)
    for role, who in ((SignOff.Role.SECURITY, people["security"]),
                      (SignOff.Role.FINANCE, people["finance"]),
                      (SignOff.Role.APP_OWNER, people["requester"])):
        SignOff.objects.create(org=org_a, row=row, role=role, signer=who,
                               signer_label=who.user.email, decision="approve",
                               row_version=1, content_hash=row.content_hash())
    assert lint_org(org=org_a) == []


def test_a_key_named_by_rows_of_two_environments_flags_both(org_a, project_a, staging,
                                                          caller_a, owner, active_row):
    key, _ = key_create(org=org_a, actor=owner, project=project_a, environment=staging,
                        caller=caller_a, name="staging key")
    own = active_row(environment=staging, api_key=key)
    borrowed = broken(active_row(), api_key=key)
    [finding] = lint_row(org=org_a, row=own)
    assert finding.rule == "key-shared"
    assert finding.message == (f"'staging key' is also named by 1 row(s) for another "
                               f"environment or caller ({str(borrowed.public_id)[:8]}).")
    rules = {f.rule: f.message for f in lint_row(org=org_a, row=borrowed)}
    assert set(rules) == {"key-shared", "environments-share-row-or-quota"}
    assert rules["key-shared"].startswith("'staging key' is bound to another environment "
                                          "than this row. 'staging key' is also named by 1")


def test_finished_rows_are_not_linted(org_a, make_row):
    row = make_row(S.REVOKED)
    broken(row, renewal_date=None, engineering_owner=None)
    assert lint_org(org=org_a) == []
    assert lint_row(org=org_a, row=row) == []


def test_a_signer_who_left_still_counts_by_label(org_a, people, make_row):
    # The requester's own signatures stay theirs after SET_NULL (matched by label);
    # another person's who left still count as another approver.
    row = make_row(S.ACTIVE)
    requester = people["requester"]
    SignOff.objects.create(org=org_a, row=row, role="security", signer=None,
                           signer_label=requester.user.email, decision="approve",
                           row_version=1, content_hash="x")
    assert [f.rule for f in lint_row(org=org_a, row=row)] == ["requester-sole-approver"]
    SignOff.objects.create(org=org_a, row=row, role="finance", signer=None,
                           signer_label="former@acme.test", decision="approve",
                           row_version=1, content_hash="x")
    assert lint_row(org=org_a, row=row) == []


def test_a_rejection_is_no_approval(org_a, people, make_row):
    row = make_row(S.ACTIVE)
    SignOff.objects.create(org=org_a, row=row, role="security", signer=people["security"],
                           signer_label="s", decision="reject", comment="no",
                           row_version=1, content_hash="x")
    assert [f.rule for f in lint_row(org=org_a, row=row)] == ["requester-sole-approver"]


def test_a_single_model_platform_is_not_provider_wide(org_a, active_row, chat_model, snapshot):
    make_entry(snapshot, "claude-x", platform="anthropic")
    row = active_row(models=[chat_model])
    assert lint_row(org=org_a, row=row) == []


def test_provider_wide_is_judged_against_the_newest_snapshot(org_a, active_row, chat_model,
                                                             mini_model):
    # A newer snapshot of the same source adds a third openai model: two of three is not
    # the whole provider any more.
    from tests.approvals.conftest import make_snapshot

    newer = make_snapshot(org_a, day=timezone.localdate(), sha="b")
    for model_id in ("gpt-chat", "gpt-mini", "gpt-new"):
        make_entry(newer, model_id)
    row = active_row(models=[chat_model, mini_model])
    assert lint_row(org=org_a, row=row) == []


def test_lint_sees_only_its_own_org(org_a, org_b, bad):
    assert lint_org(org=org_b) == []
    assert lint_row(org=org_b, row=bad["no_trigger"]) == []


def test_finding_as_dict_has_every_field(org_a, bad):
    finding = lint_row(org=org_a, row=bad["no_trigger"])[0]
    assert finding.as_dict() == {
        "rule": "production-without-trigger", "severity": "error",
        "row": str(bad["no_trigger"].public_id), "message": finding.message,
        "fix": finding.fix}


@pytest.mark.parametrize("count", [3, 30])
def test_lint_queries_do_not_grow_with_rows(org_a, people, make_row, active_row, staging,
                                            project_a, caller_a, owner, mini_model,
                                            django_assert_num_queries, count):
    key, _ = key_create(org=org_a, actor=owner, project=project_a, environment=staging,
                        caller=caller_a, name="staging key")
    fallback = active_row(models=[mini_model])
    for i in range(count - 1):
        if i % 2:
            row = active_row(fallback_row=fallback)
        else:
            row = active_row(environment=staging, api_key=key)
        broken(row, engineering_owner=None)
    # rows with their joins, their models, their live signatures, the catalog snapshots,
    # the model ids of the current snapshots' platforms
    with django_assert_num_queries(5):
        findings = lint_org(org=org_a)
    assert len({f.row for f in findings}) == count - 1


# --- manage.py lint_policy -------------------------------------------------------------------


def lint_policy(*args):
    out = io.StringIO()
    try:
        call_command("lint_policy", *args, stdout=out)
    except SystemExit as exc:
        return exc.code, out.getvalue()
    return 0, out.getvalue()


def test_command_reports_every_rule_on_the_bad_matrix(org_a, bad):
    code, out = lint_policy("--org", "acme")
    assert code == 1
    for name in RULES:
        assert name in out
    for _, _, message, fix in MESSAGES:
        assert message in out
        assert fix in out
    assert "Fix: " in out
    assert out.rstrip().endswith("acme: 18 error(s), 2 warning(s).")


def test_command_json_parses_and_lists_every_rule(org_a, bad):
    code, out = lint_policy("--org", "acme", "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert report["org"] == "acme"
    assert {f["rule"] for f in report["findings"]} == set(RULES)
    assert report["errors"] == sum(f["severity"] == "error" for f in report["findings"])
    assert report["warnings"] == 2
    assert set(report["findings"][0]) == {"rule", "severity", "row", "message", "fix"}


def test_command_exits_zero_on_a_clean_org(org_a, active_row):
    active_row()
    code, out = lint_policy("--org", "acme", "--format", "json")
    assert code == 0
    assert json.loads(out) == {"org": "acme", "errors": 0, "warnings": 0, "findings": []}
    code, out = lint_policy("--org", "acme")
    assert (code, out.strip()) == (0, "acme: 0 error(s), 0 warning(s).")


def test_command_exits_zero_on_warnings_only(org_a, make_row, mini_model):
    draft_fallback = make_row(models=[mini_model])
    make_row(fallback_row=draft_fallback)
    code, out = lint_policy("--org", "acme")
    assert code == 0
    assert "WARNING fallback-without-own-row" in out
    assert "acme: 0 error(s), 1 warning(s)." in out


def test_command_refuses_an_unknown_org(org_a):
    with pytest.raises(CommandError, match="No organization with slug 'nope'"):
        call_command("lint_policy", "--org", "nope", stdout=io.StringIO())


def test_command_needs_an_org(db):
    with pytest.raises(CommandError, match="--org"):
        call_command("lint_policy", stdout=io.StringIO())


# --- GET /api/v1/o/<org_slug>/lint/ ------------------------------------------------------------


def api_get(membership, slug="acme"):
    client = APIClient()
    client.force_authenticate(membership.user)
    return client.get(f"/api/v1/o/{slug}/lint/")


@pytest.mark.parametrize("role", ROLES)
def test_every_member_reads_the_lint_report(personas, bad, role):
    response = api_get(personas[role])
    assert response.status_code == 200
    body = response.json()
    assert {f["rule"] for f in body["findings"]} == set(RULES)
    assert (body["errors"], body["warnings"]) == (18, 2)
    finding = next(f for f in body["findings"] if f["row"] == str(bad["no_trigger"].public_id))
    assert finding["rule"] == "production-without-trigger"
    assert finding["fix"].startswith("Add at least one renewal trigger")


def test_outsider_gets_404_for_the_lint_report(outsider, bad):
    assert api_get(outsider).status_code == 404
    assert api_get(outsider, "globex").json() == {"errors": 0, "warnings": 0, "findings": []}


def test_lint_report_needs_a_login(org_a):
    assert APIClient().get("/api/v1/o/acme/lint/").status_code in (401, 403)


def test_lint_report_is_read_only(owner, org_a):
    client = APIClient()
    client.force_authenticate(owner.user)
    assert client.post("/api/v1/o/acme/lint/", {}).status_code == 405


@pytest.mark.parametrize("count", [3, 30])
def test_lint_report_queries_do_not_grow_with_rows(owner, active_row,
                                                   django_assert_num_queries, count):
    for _ in range(count):
        broken(active_row(), renewal_triggers=[])
    # 1 membership+org resolve, then the linter's five (load_snapshot).
    with django_assert_num_queries(6):
        response = api_get(owner)
    assert response.json()["errors"] == count


def test_lint_report_has_an_openapi_schema():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)  # the real URLconf
    get = schema["paths"]["/api/v1/o/{org_slug}/lint/"]["get"]
    assert "LintReport" in str(get["responses"]["200"])
