"""The request pages: the request list, the guided request form (create, edit, save and
submit), validate-as-you-go and the catalog model picker."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from approvals.models import PolicyRow
from orgs.roles import Role
from tests.approvals.conftest import Counts, make_entry, make_snapshot
from tests.conftest import login

S = PolicyRow.Status


def url(name, *args, org="acme"):
    return f"/o/{org}/" + {
        "list": "requests/", "new": "requests/new/", "validate": "requests/validate/",
        "models": "requests/models/", "edit": "matrix/{}/edit/",
    }[name].format(*args)


@pytest.fixture
def form_data(project_a, production, caller_a, people, chat_model):
    """form_data(**overrides): a complete, valid request form post (public ids)."""
    def build(**overrides):
        data = {
            "project": project_a.public_id, "environment": production.public_id,
            "caller": caller_a.public_id, "approved_models": [chat_model.public_id],
            "allowed_actions": ["chat", "chat_stream"], "data_classes": ["internal"],
            "business_reason": "Support reply summarizer", "monthly_budget": "500.00",
            "daily_cap": "40.00", "rate_limit_per_minute": "60",
            "alert_thresholds": "50, 80, 100", "cutoff_behaviour": "block",
            "renewal_date": (timezone.localdate() + timedelta(days=60)).isoformat(),
            "renewal_triggers": ["model_change", "spend_spike"],
            **{name: people[who].public_id for name, who in (
                ("app_owner", "app_owner"), ("engineering_owner", "owner"),
                ("finance_owner", "finance"), ("evidence_owner", "owner"),
                ("cutoff_owner", "owner"))},
        }
        data.update(overrides)
        return {k: v for k, v in data.items() if v is not None}
    return build


def rows(org):
    return PolicyRow.objects.for_org(org)


# Who may open which page


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.FINANCE, Role.SECURITY])
def test_reviewer_roles_cannot_file_a_request(client, personas, role, form_data):
    login(client, personas[role])
    assert client.get(url("new")).status_code == 403
    assert client.post(url("new"), form_data()).status_code == 403


@pytest.mark.parametrize("role", [Role.MEMBER, Role.ADMIN, Role.OWNER])
def test_requesting_roles_open_the_form(client, personas, role):
    login(client, personas[role])
    page = client.get(url("new"))
    assert page.status_code == 200
    assert b"Model scope" in page.content and b"Data boundary" in page.content


@pytest.mark.parametrize("name", ["list", "new", "models"])
def test_outsider_gets_404(client, outsider, name):
    login(client, outsider)
    assert client.get(url(name)).status_code == 404


def test_outsider_gets_404_on_validate_and_edit(client, outsider, make_row, form_data):
    row = make_row()
    login(client, outsider)
    assert client.post(url("validate"), {"_field": "project"}).status_code == 404
    assert client.get(url("edit", row.public_id)).status_code == 404
    assert client.get(url("edit", row.public_id, org="globex")).status_code == 404


def test_anonymous_is_sent_to_login(client):
    response = client.get(url("list"))
    assert response.status_code == 302 and "/login" in response["Location"]


@pytest.mark.parametrize("role", list(Role))
def test_every_member_reads_the_request_list(client, personas, role, make_row):
    make_row()
    login(client, personas[role])
    page = client.get(url("list"))
    assert page.status_code == 200 and b"support-api" in page.content
    assert (b"New request" in page.content) == (role in (Role.MEMBER, Role.ADMIN, Role.OWNER))


# Filing a request


def test_save_draft_creates_a_draft_and_goes_to_the_row_page(client, people, org_a, form_data):
    login(client, people["requester"])
    before = Counts(org_a)
    response = client.post(url("new"), form_data(draft="1"))
    row = rows(org_a).get()
    assert response.status_code == 302
    assert response["Location"] == f"/o/acme/matrix/{row.public_id}/"
    assert (row.status, row.version, row.requested_by) == (S.DRAFT, 1, people["requester"])
    assert row.alert_thresholds == [50, 80, 100]
    assert [e.action for e in before.new_audit()] == ["approval.created"]


def test_save_and_submit_submits(client, people, org_a, form_data):
    login(client, people["requester"])
    client.post(url("new"), form_data(submit="1"))
    assert rows(org_a).get().status == S.SUBMITTED


def test_htmx_save_answers_with_hx_location(client, people, org_a, form_data):
    login(client, people["requester"])
    response = client.post(url("new"), form_data(), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert f"/matrix/{rows(org_a).get().public_id}/" in response["HX-Location"]


def test_draft_then_edit_bumps_the_version(client, people, org_a, form_data):
    login(client, people["requester"])
    client.post(url("new"), form_data())
    row = rows(org_a).get()
    page = client.get(url("edit", row.public_id))
    assert page.status_code == 200 and b"Support reply summarizer" in page.content
    response = client.post(url("edit", row.public_id),
                           form_data(monthly_budget="750", draft="1"))
    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.version, row.monthly_budget) == (2, 750)


def test_saving_an_unchanged_edit_keeps_the_version(client, people, org_a, form_data):
    login(client, people["requester"])
    client.post(url("new"), form_data())
    row = rows(org_a).get()
    client.post(url("edit", row.public_id), form_data())
    row.refresh_from_db()
    assert row.version == 1


def test_another_member_cannot_edit_someone_elses_request(client, personas, org_a,
                                                         make_row):
    from tests.factories import MembershipFactory

    row = make_row()
    login(client, MembershipFactory(org=org_a, role=Role.MEMBER))
    assert client.get(url("edit", row.public_id)).status_code == 403


def test_a_row_under_review_cannot_be_edited(client, people, make_row):
    row = make_row(S.IN_REVIEW)
    login(client, people["requester"])
    assert client.get(url("edit", row.public_id)).status_code == 403


def test_a_row_sent_back_can_be_edited_and_resubmitted(client, people, make_row, form_data):
    row = make_row(S.CHANGES_REQUESTED)
    login(client, people["requester"])
    client.post(url("edit", row.public_id), form_data(business_reason="Reworked", submit="1"))
    row.refresh_from_db()
    assert (row.status, row.version, row.business_reason) == (S.SUBMITTED, 2, "Reworked")


# Bad input: clear field errors, nothing saved


def _bad_inputs(snapshot, org_a):
    older = make_entry(make_snapshot(org_a, day=date(2026, 10, 1), sha="o", source="old"),
                       "gpt-old")
    make_snapshot(org_a, day=date(2026, 10, 2), sha="p", source="old")  # older is stale now
    embed = make_entry(snapshot, "embed", families=("embeddings",))
    today = timezone.localdate()
    return {
        "unknown model": ({"approved_models": ["3f1c1e4e-0000-4000-8000-000000000000"]},
                          "approved_models", "Unknown model"),
        "not a model id": ({"approved_models": ["gpt-4"]}, "approved_models",
                           "catalog search"),
        "model not in the current catalog": ({"approved_models": [older.public_id]},
                                             "approved_models", "not in the current catalog"),
        "no model": ({"approved_models": None}, "approved_models", "at least one model"),
        "action the model cannot serve": ({"approved_models": [embed.public_id]},
                                          "allowed_actions", "cannot serve chat"),
        "negative budget": ({"monthly_budget": "-5"}, "monthly_budget", "negative"),
        "negative daily cap": ({"daily_cap": "-1"}, "daily_cap", "negative"),
        "thresholds out of order": ({"alert_thresholds": "80, 50, 100"}, "alert_thresholds",
                                    "rising"),
        "thresholds not numbers": ({"alert_thresholds": "half"}, "alert_thresholds",
                                   "whole percentages"),
        "renewal in the past": ({"renewal_date": (today - timedelta(days=1)).isoformat()},
                                "renewal_date", "future"),
        "renewal beyond the maximum": ({"renewal_date": (today + timedelta(days=400))
                                        .isoformat()}, "renewal_date", "renew within"),
        "prohibited data": ({"data_classes": ["prohibited"]}, "data_classes", "prohibited"),
        "missing owner": ({"finance_owner": None}, "finance_owner", "required"),
    }


BAD = ["unknown model", "not a model id", "model not in the current catalog", "no model",
       "action the model cannot serve", "negative budget", "negative daily cap",
       "thresholds out of order", "thresholds not numbers", "renewal in the past",
       "renewal beyond the maximum", "prohibited data", "missing owner"]


@pytest.mark.parametrize("case", BAD)
def test_bad_input_gives_a_field_error_and_saves_nothing(client, people, org_a, snapshot,
                                                         form_data, case):
    overrides, field, message = _bad_inputs(snapshot, org_a)[case]
    login(client, people["requester"])
    before = Counts(org_a)
    response = client.post(url("new"), form_data(**overrides))
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors, errors
    assert message.lower() in " ".join(errors[field]).lower()
    assert not rows(org_a).exists() and before.new_audit() == []


def test_fallback_to_itself_is_refused(client, people, org_a, make_row, form_data):
    row = make_row()
    login(client, people["requester"])
    response = client.post(url("edit", row.public_id),
                           form_data(fallback_row=row.public_id))
    # Its own row is not even offered as a fallback.
    assert response.status_code == 400 and "fallback_row" in response.context["form"].errors


def test_fallback_cycle_is_refused_and_nothing_changes(client, people, org_a, make_row,
                                                      form_data):
    a, b = make_row(), make_row()
    login(client, people["requester"])
    client.post(url("edit", b.public_id), form_data(fallback_row=a.public_id))
    b.refresh_from_db()
    assert b.fallback_row == a
    before = Counts(org_a)
    response = client.post(url("edit", a.public_id), form_data(fallback_row=b.public_id))
    assert response.status_code == 400
    assert "cycle" in " ".join(response.context["form"].errors["fallback_row"])
    a.refresh_from_db()
    assert (a.fallback_row, a.version) == (None, 1) and before.new_audit() == []


def test_another_orgs_project_is_not_accepted(client, people, org_a, project_b, form_data):
    login(client, people["requester"])
    response = client.post(url("new"), form_data(project=project_b.public_id))
    assert "project" in response.context["form"].errors
    assert not rows(org_a).exists()


# Validate as you go


def test_validate_returns_the_field_error_without_saving(client, people, org_a, form_data):
    login(client, people["requester"])
    before = Counts(org_a)
    response = client.post(url("validate"), {**form_data(monthly_budget="-3"),
                                              "_field": "monthly_budget"},
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    body = response.content.decode()
    assert 'id="field-monthly_budget"' in body and "Must not be negative" in body
    assert "<html" not in body
    assert not rows(org_a).exists() and before.new_audit() == []


def test_validate_tells_about_a_bad_budget_before_the_rest_is_filled_in(client, people):
    login(client, people["requester"])
    response = client.post(url("validate"), {"monthly_budget": "-3",
                                              "_field": "monthly_budget"})
    assert response.status_code == 422 and b"Must not be negative" in response.content


def test_validate_of_a_good_field_shows_no_error(client, people, form_data):
    login(client, people["requester"])
    response = client.post(url("validate"), {**form_data(), "_field": "monthly_budget"})
    assert response.status_code == 200 and b"invalid-feedback" not in response.content


def test_validate_project_narrows_environments_and_callers(client, people, org_a,
                                                            project_a, caller_a):
    from tests.factories import CallerFactory, ProjectFactory

    other = ProjectFactory(org=org_a, name="Other", slug="other")
    CallerFactory(project=other, owner=people["owner"], name="other-caller")
    login(client, people["requester"])
    response = client.post(url("validate"), {"project": project_a.public_id,
                                              "_field": "project"})
    body = response.content.decode()
    assert response.status_code == 200 and 'id="field-who"' in body
    assert "support-api" in body and "other-caller" not in body
    # Only the changed field reports; the empty environment is not an error yet.
    assert "invalid-feedback" not in body


def test_validate_caller_narrows_the_keys_and_keeps_the_selects(client, people, org_a,
                                                               project_a, production,
                                                               caller_a, owner):
    from projects.keys import key_create
    from tests.factories import CallerFactory

    other = CallerFactory(project=project_a, owner=owner, name="batch-job")
    key_create(org=org_a, actor=owner, project=project_a, environment=production,
               caller=caller_a, name="support key")
    key_create(org=org_a, actor=owner, project=project_a, environment=production,
               caller=other, name="batch key")
    login(client, people["requester"])
    response = client.post(url("validate"), {
        "project": project_a.public_id, "environment": production.public_id,
        "caller": caller_a.public_id, "_field": "caller"})
    body = response.content.decode()
    # Only the credential choices come back: the caller select itself stays in the page.
    assert body.lstrip().startswith('<div id="field-credentials">')
    assert "support key" in body and "batch key" not in body and 'name="caller"' not in body


def test_validate_rejects_an_unknown_field(client, people):
    login(client, people["requester"])
    assert client.post(url("validate"), {"_field": "status"}).status_code == 400


def test_validate_with_a_foreign_row_is_404(client, people, outsider, org_b):
    login(client, people["requester"])
    response = client.post(url("validate"), {"_field": "project",
                                              "_row": "3f1c1e4e-0000-4000-8000-000000000000"})
    assert response.status_code == 404


# The model picker


def test_model_search_finds_current_entries_only(client, people, org_a, snapshot,
                                                 chat_model, org_b):
    make_entry(snapshot, "claude-x", platform="anthropic")
    stale = make_snapshot(org_a, source="old", day=date(2026, 1, 1), sha="s")
    make_entry(stale, "gpt-stale")
    make_snapshot(org_a, source="old", day=date(2026, 2, 1), sha="t")
    make_entry(make_snapshot(org_b), "gpt-theirs")
    login(client, people["requester"])
    body = client.get(url("models"), {"q": "gpt"}).content.decode()
    assert "openai/gpt-chat" in body and str(chat_model.public_id) in body
    assert "claude-x" not in body and "gpt-stale" not in body and "gpt-theirs" not in body
    assert "chat_completions" in body and "Available" in body
    assert "anthropic/claude-x" in client.get(url("models"), {"q": "anthropic"}).content.decode()


def test_model_search_says_when_nothing_matches(client, people, snapshot):
    login(client, people["requester"])
    assert b"No model of the current catalog matches" in client.get(
        url("models"), {"q": "nothing"}).content


@pytest.mark.parametrize("count", [3, 30])
def test_model_search_shows_at_most_25_in_constant_queries(client, people, snapshot, count,
                                                           django_assert_num_queries):
    for i in range(count):
        make_entry(snapshot, f"gpt-{i:02}")
    login(client, people["requester"])
    # session + user, membership+org resolve, the entries (current snapshots in a subquery)
    with django_assert_num_queries(4):
        body = client.get(url("models"), {"q": "gpt"}).content.decode()
    assert body.count('name="approved_models"') == min(count, 25)


# The list


def test_request_list_shows_status_next_step_and_hides_active_rows(client, people,
                                                                   make_row):
    make_row(S.SUBMITTED, business_reason="Pending one")
    make_row(S.ACTIVE, business_reason="Live one")
    login(client, people["auditor"])
    body = client.get(url("list")).content.decode()
    assert "Pending one" in body and "Live one" not in body
    assert "Submitted" in body and "screens its models" in body


def test_mine_shows_only_my_requests(client, people, org_a, make_row, form_data):
    make_row(business_reason="Filed by the requester")
    login(client, people["admin"])
    client.post(url("new"), form_data(business_reason="Filed by the admin"))
    body = client.get(url("list"), {"mine": "1"}).content.decode()
    assert "Filed by the admin" in body and "Filed by the requester" not in body
    assert "Filed by the requester" in client.get(url("list")).content.decode()


@pytest.mark.parametrize("count", [3, 30])
def test_request_list_query_count_is_constant(client, people, make_row, count,
                                              django_assert_num_queries):
    for _ in range(count):
        make_row()
    login(client, people["requester"])
    # session + user, membership+org resolve, count for the paginator, the rows with
    # project, environment, caller and requester (one join), the navbar's org switcher
    with django_assert_num_queries(6):
        response = client.get(url("list"))
    assert response.content.count(b"support-api") == count
