"""The matrix pages: who sees the matrix, the lint report and the deny rules (every role
of the org; outsiders get 404), who adds and lifts deny rules (admins, owners, security),
every filter and sort of the matrix, and its query count from 10 to 500 rows."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from approvals.lint import RULES
from approvals.models import DenyRule, PolicyRow
from approvals.services import deny_rule_create
from orgs.roles import Role
from tests.approvals.conftest import Counts, clone_rows, make_entry
from tests.conftest import ROLES, login
from tests.factories import CallerFactory, MembershipFactory, ProjectFactory

S = PolicyRow.Status
MANAGERS = {Role.OWNER, Role.ADMIN, Role.SECURITY}
READ_PAGES = ["approvals:matrix", "approvals:matrix_export_csv",
              "approvals:matrix_export_xlsx", "approvals:lint", "approvals:deny_rule_list"]


def url(name, *args, org="acme"):
    return reverse(name, args=[org, *args])


def codes(response):
    """The matrix rows on a page, by caller name and status, in page order."""
    return [(line["row"].caller.name, line["row"].status) for line in response.context["lines"]]


@pytest.fixture
def staging(project_a):
    return project_a.environments.get(tier="staging")


@pytest.fixture
def matrix_rows(org_a, project_a, production, staging, owner, people, snapshot, make_row,
                chat_model):
    """Four rows that differ in every filtered column:
    support: production, openai/gpt-chat, chat + chat_stream, internal, renewal in 60 days,
             active
    batch:   staging, anthropic/claude-embed, embeddings, customer_pii, renewal in 10 days,
             in review, finance owner = a second finance member
    stream:  production, openai/gpt-chat and openrouter/meta-llama/Llama-3-70b,
             chat_stream only, public, renewal in 30 days, draft
    other:   another project's production, openai/gpt-chat, chat, internal, suspended."""
    batch_caller = CallerFactory(project=project_a, owner=owner, name="batch")
    stream_caller = CallerFactory(project=project_a, owner=owner, name="stream")
    other_project = ProjectFactory(org=org_a, name="Billing", slug="billing")
    other_caller = CallerFactory(project=other_project, owner=owner, name="other")
    embed = make_entry(snapshot, "claude-embed", platform="anthropic", families=("embeddings",))
    today = timezone.localdate()
    finance_2 = MembershipFactory(org=org_a, role=Role.FINANCE, user__email="fin2@acme.test")
    return {
        "support": make_row(S.ACTIVE, renewal_date=today + timedelta(days=60)),
        "batch": make_row(S.IN_REVIEW, environment=staging, caller=batch_caller,
                          models=[embed], allowed_actions=["embeddings"],
                          data_classes=["customer_pii"], finance_owner=finance_2,
                          renewal_date=today + timedelta(days=10)),
        "stream": make_row(caller=stream_caller, allowed_actions=["chat_stream"],
                           models=[chat_model, make_entry(snapshot, "meta-llama/Llama-3-70b",
                                                          platform="openrouter")],
                           data_classes=["public"], renewal_date=today + timedelta(days=30)),
        "other": make_row(S.SUSPENDED, project=other_project,
                          environment=other_project.environments.get(tier="production"),
                          caller=other_caller, allowed_actions=["chat"],
                          renewal_date=today + timedelta(days=80)),
        "finance_2": finance_2,
    }


def callers(client, **params):
    response = client.get(url("approvals:matrix"), params)
    assert response.status_code == 200
    return [line["row"].caller.name for line in response.context["lines"]]


# --- Who sees what --------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", READ_PAGES)
def test_every_role_reads_the_matrix_pages(client, personas, role, page):
    login(client, personas[role])
    assert client.get(url(page)).status_code == 200


@pytest.mark.parametrize("page", READ_PAGES + ["approvals:deny_rule_create"])
def test_outsider_gets_404(client, personas, outsider, page):
    login(client, outsider)
    assert client.get(url(page)).status_code == 404


def test_anonymous_is_sent_to_login(client, org_a):
    response = client.get(url("approvals:matrix"))
    assert response.status_code == 302 and "login" in response["Location"]


# --- The matrix page ------------------------------------------------------------------------


def test_matrix_shows_every_column_and_links_each_row(client, people, matrix_rows):
    login(client, people["auditor"])
    response = client.get(url("approvals:matrix"))
    html = response.content.decode()
    row = matrix_rows["support"]
    assert url("approvals:row_detail", row.public_id) in html
    for text in ("Support bot", "production", "support-api", "openai/gpt-chat",
                 "chat, chat_stream", "internal", "$500.00/mo", "$40.00/day",
                 "app-owner@acme.test", str(row.renewal_date), "Active", "v1",
                 "anthropic/claude-embed", "customer_pii", "In review", "Suspended"):
        assert text in html, text
    for name in ("matrix_export_csv", "matrix_export_xlsx", "lint", "deny_rule_list"):
        assert url(f"approvals:{name}") in html


def test_matrix_without_rows_invites_a_request(client, people):
    login(client, people["requester"])
    html = client.get(url("approvals:matrix")).content.decode()
    assert "No policy rows" in html and url("approvals:request_create") in html


def test_default_order_is_the_renewal_date(client, people, matrix_rows):
    login(client, people["requester"])
    assert callers(client) == ["batch", "stream", "support-api", "other"]


@pytest.mark.parametrize(("params", "expected"), [
    ({"project": "billing"}, ["other"]),
    ({"environment": "staging"}, ["batch"]),
    ({"environment": "production"}, ["stream", "support-api", "other"]),
    ({"caller": "batch"}, ["batch"]),
    ({"model": "claude"}, ["batch"]),
    ({"model": "anthropic"}, ["batch"]),
    ({"model": "openai/gpt-chat"}, ["stream", "support-api", "other"]),
    ({"model": "anthropic/gpt"}, []),
    ({"model": "router/meta-llama/llama-3"}, ["stream"]),
    ({"model": "meta-llama/llama"}, ["stream"]),  # a model id with a slash of its own
    ({"action": "chat"}, ["support-api", "other"]),  # chat_stream alone is not chat
    ({"action": "chat_stream"}, ["stream", "support-api"]),
    ({"action": "embeddings"}, ["batch"]),
    ({"data_class": "customer_pii"}, ["batch"]),
    ({"data_class": "internal"}, ["support-api", "other"]),
    ({"status": ["active", "suspended"]}, ["support-api", "other"]),
    ({"status": "draft"}, ["stream"]),
    ({"renewal_within": 30}, ["batch", "stream"]),
    ({"renewal_within": 0}, []),
    ({"action": "chat", "environment": "production", "project": "support-bot"},
     ["support-api"]),
])
def test_each_filter_narrows_the_matrix(client, people, matrix_rows, project_a, params,
                                        expected):
    login(client, people["requester"])
    params = dict(params)
    if params.get("project") == "billing":
        params["project"] = str(matrix_rows["other"].project.public_id)
    elif params.get("project") == "support-bot":
        params["project"] = str(project_a.public_id)
    if params.get("caller") == "batch":
        params["caller"] = str(matrix_rows["batch"].caller.public_id)
    assert callers(client, **params) == expected


def test_renewal_filter_includes_overdue_rows_but_never_finished_ones(client, people,
                                                                     make_row, owner,
                                                                     project_a):
    yesterday = timezone.localdate() - timedelta(days=1)
    for name, status in (("overdue", S.ACTIVE), ("revoked", S.REVOKED),
                         ("expired", S.EXPIRED), ("later", S.ACTIVE)):
        row = make_row(status, caller=CallerFactory(project=project_a, owner=owner, name=name))
        if name != "later":
            PolicyRow.objects.filter(pk=row.pk).update(renewal_date=yesterday)
    login(client, people["requester"])
    assert callers(client, renewal_within=7) == ["overdue"]


def test_owner_filter_matches_any_owner_role(client, people, matrix_rows):
    login(client, people["requester"])
    assert callers(client, owner=str(matrix_rows["finance_2"].public_id)) == ["batch"]
    # The app owner of every row.
    assert len(callers(client, owner=str(people["app_owner"].public_id))) == 4
    assert callers(client, owner=str(people["security"].public_id)) == []


def test_a_filter_from_another_org_is_an_error_and_not_applied(client, people, matrix_rows,
                                                               project_b):
    login(client, people["requester"])
    response = client.get(url("approvals:matrix"), {"project": str(project_b.public_id),
                                                    "action": "embeddings"})
    assert response.status_code == 200
    assert "project" in response.context["form"].errors
    assert codes(response) == [("batch", S.IN_REVIEW)]  # the valid filter still applies


@pytest.mark.parametrize(("sort", "expected"), [
    ("caller", ["batch", "other", "stream", "support-api"]),
    ("-caller", ["support-api", "stream", "other", "batch"]),
    ("-renewal", ["other", "support-api", "stream", "batch"]),
    # Billing before Support bot; ties by renewal date.
    ("project", ["other", "batch", "stream", "support-api"]),
    ("-project", ["batch", "stream", "support-api", "other"]),
    ("environment", ["stream", "support-api", "other", "batch"]),
    # By status value: active, draft, in_review, suspended.
    ("status", ["support-api", "stream", "batch", "other"]),
])
def test_matrix_sorts_by_a_column(client, people, matrix_rows, sort, expected):
    login(client, people["requester"])
    assert callers(client, sort=sort) == expected


def test_unknown_sort_falls_back_to_the_renewal_date(client, people, matrix_rows):
    login(client, people["requester"])
    response = client.get(url("approvals:matrix"), {"sort": "business_reason"})
    assert response.status_code == 200
    assert [line["row"].caller.name for line in response.context["lines"]] == [
        "batch", "stream", "support-api", "other"]


def test_header_link_reverses_the_current_sort_and_keeps_filters(client, people,
                                                                 matrix_rows):
    login(client, people["requester"])
    response = client.get(url("approvals:matrix"), {"sort": "caller", "action": "chat"})
    href, direction = response.context["headers"]["caller"]
    assert direction == "asc" and "sort=-caller" in href and "action=chat" in href
    assert 'aria-sort="ascending"' in response.content.decode()


def test_export_links_keep_the_filters(client, people, matrix_rows):
    login(client, people["requester"])
    html = client.get(url("approvals:matrix"), {"action": "chat", "page": "1"}).content.decode()
    assert url("approvals:matrix_export_csv") + "?action=chat\"" in html


def test_htmx_filter_gets_the_table_fragment(client, people, matrix_rows):
    login(client, people["requester"])
    response = client.get(url("approvals:matrix"), {"action": "embeddings"},
                          HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html and "<form" not in html
    assert "batch" in html and "support-api" not in html


def test_matrix_pages_by_fifty(client, people, make_row):
    clone_rows(make_row(), 54)
    login(client, people["requester"])
    first = client.get(url("approvals:matrix"))
    assert len(first.context["lines"]) == 50 and "Page 1 of 2" in first.content.decode()
    assert len(client.get(url("approvals:matrix"), {"page": 2}).context["lines"]) == 5


def test_matrix_shows_lint_findings_on_each_row(client, people, make_row):
    row = make_row()
    PolicyRow.objects.filter(pk=row.pk).update(allowed_actions=[])  # as an import would
    login(client, people["requester"])
    response = client.get(url("approvals:matrix"))
    assert response.context["lines"][0]["lint"] == 1
    assert url("approvals:lint") + f"#row-{row.public_id}" in response.content.decode()


@pytest.mark.parametrize("n", [10, 500])
def test_matrix_query_count_is_constant(client, people, make_row, django_assert_num_queries,
                                        n):
    clone_rows(make_row(), n - 1)
    login(client, people["requester"])
    # 4 for every org page (session, user, membership with the unread count, the org
    # switcher); 4 for the matrix page (count, rows with their relations, approved models,
    # live sign-offs); 3 for the filter form's choices (projects, callers, members); 5 for
    # the lint column (rows, models, sign-offs, snapshots, current platforms' models).
    with django_assert_num_queries(16):
        response = client.get(url("approvals:matrix"))
    assert response.status_code == 200 and len(response.context["lines"]) == min(n, 50)


# --- The lint report ------------------------------------------------------------------------


def test_lint_page_lists_every_rule_and_each_finding_with_its_row(client, people, make_row):
    row = make_row()
    PolicyRow.objects.filter(pk=row.pk).update(allowed_actions=[], renewal_date=None)
    login(client, people["auditor"])
    response = client.get(url("approvals:lint"))
    html = response.content.decode()
    for name, registered in RULES.items():
        assert f'id="rule-{name}"' in html and registered.title in html
    assert "The row approves models but no action" in html
    assert "List the allowed actions the caller needs" in html
    assert "This production row has no renewal date" in html
    assert url("approvals:row_detail", row.public_id) in html
    report = response.context["report"]
    assert (report.rows_checked, report.rows_with_findings, report.errors) == (1, 1, 2)
    assert html.count(f'id="row-{row.public_id}"') == 1


def test_clean_lint_page_says_so(client, people, make_row):
    make_row()
    login(client, people["requester"])
    assert "No findings" in client.get(url("approvals:lint")).content.decode()


# --- Deny rules -----------------------------------------------------------------------------


@pytest.fixture
def deny_form(people, project_a):
    return {"model_id": "gpt-banned", "platform": "openai", "action": "", "data_class": "",
            "project": "", "environment": "", "reason": "Vendor terms forbid our use",
            "owner": str(people["security"].public_id)}


@pytest.fixture
def rule(org_a, people):
    return deny_rule_create(org=org_a, actor=people["security"], reason="No PII to vendors",
                            owner=people["security"], data_class="customer_pii")


@pytest.mark.parametrize("role", ROLES)
def test_only_admins_owners_and_security_add_deny_rules(client, personas, role, deny_form):
    login(client, personas[role])
    get = client.get(url("approvals:deny_rule_create"))
    post = client.post(url("approvals:deny_rule_create"), deny_form)
    if role in MANAGERS:
        assert get.status_code == 200 and post.status_code == 302
        assert DenyRule.objects.for_org(personas[role].org).filter(
            model_id="gpt-banned", created_by=personas[role]).exists()
    else:
        assert (get.status_code, post.status_code) == (403, 403)
        assert not DenyRule.objects.exists()


@pytest.mark.parametrize("role", ROLES)
def test_add_and_lift_buttons_show_only_to_managers(client, personas, role, rule):
    login(client, personas[role])
    html = client.get(url("approvals:deny_rule_list")).content.decode()
    shown = url("approvals:deny_rule_create") in html
    assert shown == (role in MANAGERS)
    assert (url("approvals:deny_rule_deactivate", rule.public_id) in html) == (role in MANAGERS)


def test_deny_rule_is_added_audited_and_listed(client, org_a, people, deny_form):
    counts = Counts(org_a)
    login(client, people["security"])
    response = client.post(url("approvals:deny_rule_create"), deny_form)
    assert response["Location"] == url("approvals:deny_rule_list")
    assert [e.action for e in counts.new_audit()] == ["approval.deny_rule_created"]
    html = client.get(url("approvals:deny_rule_list")).content.decode()
    assert "openai/gpt-banned" in html and "Vendor terms forbid our use" in html
    assert "security@acme.test" in html and "Deny rule added" in html


def test_deny_rule_naming_nothing_is_a_field_error_and_saves_nothing(client, people,
                                                                     deny_form):
    login(client, people["admin"])
    response = client.post(url("approvals:deny_rule_create"),
                           {**deny_form, "model_id": "", "platform": ""})
    assert response.status_code == 400
    assert response.context["form"].errors["model_id"] == [
        "Deny a platform, a model, an action or a data class (or several)."]
    assert not DenyRule.objects.exists()


@pytest.mark.parametrize(("change", "field"), [
    ({"reason": ""}, "reason"),
    ({"owner": ""}, "owner"),
    ({"platform": "open/ai", "model_id": "gpt-4o"}, "platform"),
    ({"action": "teleport"}, "action"),
])
def test_deny_rule_bad_input_names_the_field(client, people, deny_form, change, field):
    login(client, people["admin"])
    response = client.post(url("approvals:deny_rule_create"), {**deny_form, **change})
    assert response.status_code == 400 and field in response.context["form"].errors
    assert not DenyRule.objects.exists()


def test_deny_rule_environment_of_another_project_is_refused(client, org_a, people,
                                                             project_a, deny_form, owner):
    other = ProjectFactory(org=org_a, name="Other", slug="other")
    login(client, people["admin"])
    response = client.post(url("approvals:deny_rule_create"), {
        **deny_form, "project": str(project_a.public_id),
        "environment": str(other.environments.get(tier="staging").public_id)})
    assert response.status_code == 400 and "environment" in response.context["form"].errors
    assert not DenyRule.objects.exists()


@pytest.mark.parametrize("field", ["project", "environment", "owner"])
def test_deny_rule_never_accepts_another_orgs_objects(client, people, deny_form, project_b,
                                                      outsider, field):
    foreign = {"project": project_b.public_id, "owner": outsider.public_id,
               "environment": project_b.environments.first().public_id}[field]
    login(client, people["admin"])
    response = client.post(url("approvals:deny_rule_create"),
                           {**deny_form, field: str(foreign)})
    assert response.status_code == 400 and field in response.context["form"].errors
    assert not DenyRule.objects.exists()


def test_security_lifts_a_deny_rule_with_a_reason(client, org_a, people, rule):
    counts = Counts(org_a)
    login(client, people["security"])
    response = client.post(url("approvals:deny_rule_deactivate", rule.public_id),
                           {"reason": "Vendor signed a DPA"})
    assert response.status_code == 302
    rule.refresh_from_db()
    assert not rule.active and rule.deactivated_at is not None
    assert [e.action for e in counts.new_audit()] == ["approval.deny_rule_deactivated"]
    html = client.get(url("approvals:deny_rule_list")).content.decode()
    assert "No active deny rules" in html and "No PII to vendors" in html  # listed as lifted


def test_lifting_without_a_reason_is_refused(client, people, rule):
    login(client, people["admin"])
    response = client.post(url("approvals:deny_rule_deactivate", rule.public_id),
                           {"reason": " "})
    assert response.status_code == 400 and "Could not lift" in response.content.decode()
    rule.refresh_from_db()
    assert rule.active


def test_lifting_a_lifted_rule_is_refused(client, org_a, people, rule):
    login(client, people["admin"])
    client.post(url("approvals:deny_rule_deactivate", rule.public_id), {"reason": "done"})
    response = client.post(url("approvals:deny_rule_deactivate", rule.public_id),
                           {"reason": "again"})
    assert response.status_code == 400 and "already lifted" in response.content.decode()


@pytest.mark.parametrize("role", sorted(set(ROLES) - MANAGERS))
def test_non_managers_cannot_lift_deny_rules(client, personas, rule, role):
    login(client, personas[role])
    response = client.post(url("approvals:deny_rule_deactivate", rule.public_id),
                           {"reason": "I want to"})
    assert response.status_code == 403
    rule.refresh_from_db()
    assert rule.active


def test_lifting_is_post_only(client, people, rule):
    login(client, people["admin"])
    assert client.get(url("approvals:deny_rule_deactivate", rule.public_id)).status_code == 405


def test_another_orgs_deny_rule_is_404(client, people, org_b, outsider):
    theirs = deny_rule_create(org=org_b, actor=outsider, reason="theirs", owner=outsider,
                              action="chat")
    login(client, people["admin"])
    response = client.post(url("approvals:deny_rule_deactivate", theirs.public_id),
                           {"reason": "mine now"})
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.active


def test_deny_rule_list_query_count_is_constant(client, org_a, people, project_a,
                                                django_assert_num_queries):
    for i in range(3):
        deny_rule_create(org=org_a, actor=people["admin"], reason=f"r{i}",
                         owner=people["security"], model_id=f"m{i}", project=project_a,
                         environment=project_a.environments.first())
    login(client, people["admin"])
    # 4 for every org page (session, user, membership, org switcher), 1 for the rules with
    # their project, environment and owner.
    with django_assert_num_queries(5):
        client.get(url("approvals:deny_rule_list"))
    deny_rule_create(org=org_a, actor=people["admin"], reason="r", owner=people["security"],
                     action="batch")
    with django_assert_num_queries(5):
        client.get(url("approvals:deny_rule_list"))


def test_deny_rule_naming_nothing_in_the_catalog_is_added_with_a_plain_warning(
        client, org_a, people, deny_form, chat_model):
    login(client, people["security"])
    response = client.post(url("approvals:deny_rule_create"), deny_form, follow=True)
    html = response.content.decode()
    assert "Deny rule added" in html
    assert ("This rule matches no entry of the current catalog (litellm 2026-11-01): no model "
            "gpt-banned on platform openai.") in html
    assert DenyRule.objects.for_org(org_a).get().model_id == "gpt-banned"


def test_deny_rule_on_a_catalog_model_is_added_without_warning(client, people, deny_form,
                                                              chat_model):
    login(client, people["security"])
    response = client.post(url("approvals:deny_rule_create"),
                           {**deny_form, "platform": "", "model_id": " GPT-Chat"}, follow=True)
    html = response.content.decode()
    assert "Deny rule added" in html and "matches no entry" not in html
    assert DenyRule.objects.get().model_id == "gpt-chat"
