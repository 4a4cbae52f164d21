"""Creating and editing rows: the product's rules on a row's content, and the screen step."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError
from django.utils import timezone

from approvals import services
from approvals.models import MAX_RENEWAL_DAYS, PolicyRow
from approvals.workflow import InvalidTransition
from orgs.audit import AuditEvent
from orgs.services import membership_remove
from projects.models import WorkloadIdentity
from tests.approvals.conftest import Counts, make_entry, make_snapshot, row_fields
from tests.factories import CallerFactory, EnvironmentFactory, ProjectFactory

S = PolicyRow.Status


@pytest.fixture
def fields(project_a, production, caller_a, people):
    def build(**overrides):
        return row_fields(people=people, **{"project": project_a, "environment": production,
                                            "caller": caller_a, **overrides})
    return build


def create(org, people, models, **fields):
    return services.row_create(org=org, actor=people["requester"], approved_models=models,
                               **fields)


def errors_of(exc_info):
    return exc_info.value.message_dict


def test_row_create_makes_a_draft_version_one_and_audits(org_a, people, chat_model, fields):
    before = Counts(org_a)
    row = create(org_a, people, [chat_model], **fields())
    assert (row.status, row.version, row.requested_by) == (S.DRAFT, 1, people["requester"])
    assert row.alert_thresholds == [50, 80, 100] and row.cutoff_behaviour == "block"
    assert list(row.approved_models.all()) == [chat_model]
    [audit] = before.new_audit()
    assert audit.action == "approval.created"
    assert audit.changes["approved_models"] == [None, [str(chat_model.public_id)]]
    assert [e.kind for e in before.new_events()] == ["approval.created"]


@pytest.mark.parametrize("role", ["security", "finance", "auditor"])
def test_reviewer_roles_cannot_request(role, org_a, personas, chat_model, fields):
    with pytest.raises(PermissionDenied):
        services.row_create(org=org_a, actor=personas[role], approved_models=[chat_model],
                            **fields())


def test_outsider_cannot_create_in_another_org(org_a, outsider, chat_model, fields):
    with pytest.raises(PermissionDenied):
        services.row_create(org=org_a, actor=outsider, approved_models=[chat_model],
                            **fields())


@pytest.mark.parametrize(("overrides", "field"), [
    ({"allowed_actions": []}, "allowed_actions"),
    ({"allowed_actions": ["teleport"]}, "allowed_actions"),
    ({"allowed_actions": ["chat", "chat"]}, "allowed_actions"),
    ({"data_classes": []}, "data_classes"),
    ({"data_classes": ["prohibited"]}, "data_classes"),
    ({"renewal_triggers": ["whim"]}, "renewal_triggers"),
    ({"alert_thresholds": [80, 50]}, "alert_thresholds"),
    ({"alert_thresholds": [50, 120]}, "alert_thresholds"),
    ({"monthly_budget": "-1"}, "monthly_budget"),
    ({"monthly_budget": "lots"}, "monthly_budget"),
    ({"business_reason": ""}, "business_reason"),
    ({"finance_owner": None}, "finance_owner"),
    ({"renewal_date": None}, "renewal_date"),
    ({"renewal_date": date(2020, 1, 1)}, "renewal_date"),
    ({"renewal_triggers": []}, "renewal_triggers"),
])
def test_bad_content_is_a_field_error_and_writes_nothing(overrides, field, org_a, people,
                                                         chat_model, fields):
    before = Counts(org_a)
    with pytest.raises(ValidationError) as exc:
        create(org_a, people, [chat_model], **fields(**overrides))
    assert field in errors_of(exc)
    assert not PolicyRow.objects.exists() and before.new_audit() == []


def test_missing_fields_are_field_errors(org_a, people, chat_model, fields):
    given = fields()
    for name in ("project", "caller", "monthly_budget"):
        given.pop(name)
    with pytest.raises(ValidationError) as exc:
        create(org_a, people, [chat_model], **given)
    assert {"project", "caller", "monthly_budget"} <= set(errors_of(exc))


def test_production_renewal_date_within_the_maximum(org_a, people, chat_model, fields):
    too_far = timezone.localdate() + timedelta(days=MAX_RENEWAL_DAYS + 1)
    with pytest.raises(ValidationError) as exc:
        create(org_a, people, [chat_model], **fields(renewal_date=too_far))
    assert f"{MAX_RENEWAL_DAYS} days" in errors_of(exc)["renewal_date"][0]
    create(org_a, people, [chat_model],
           **fields(renewal_date=timezone.localdate() + timedelta(days=MAX_RENEWAL_DAYS)))


def test_development_rows_need_no_renewal_date(org_a, people, chat_model, fields, project_a):
    dev = project_a.environments.get(tier="development")
    row = create(org_a, people, [chat_model],
                 **fields(environment=dev, renewal_date=None, renewal_triggers=[]))
    assert row.renewal_date is None


def test_a_model_is_required_and_from_this_org(org_a, org_b, people, fields):
    with pytest.raises(ValidationError) as exc:
        create(org_a, people, [], **fields())
    assert "approved_models" in errors_of(exc)
    foreign = make_entry(make_snapshot(org_b), "gpt-foreign")
    with pytest.raises(ValidationError) as exc:
        create(org_a, people, [foreign], **fields())
    assert "approved_models" in errors_of(exc)


def test_environment_and_caller_must_be_of_the_project(org_a, people, chat_model, fields):
    other = ProjectFactory(org=org_a)
    with pytest.raises(ValidationError) as exc:
        create(org_a, people, [chat_model],
               **fields(environment=EnvironmentFactory(project=other, tier="production"),
                        caller=CallerFactory(project=other, owner=people["owner"])))
    assert {"environment", "caller"} <= set(errors_of(exc))


def test_objects_of_another_org_are_refused(org_a, people, chat_model, fields, caller_b):
    with pytest.raises(ValidationError) as exc:
        create(org_a, people, [chat_model], **fields(caller=caller_b))
    assert "caller" in errors_of(exc)


@pytest.fixture
def identity(org_a, production, caller_a, people):
    return WorkloadIdentity.objects.create(
        org=org_a, project=production.project, environment=production, caller=caller_a,
        name="ci", issuer="https://issuer.test", audience="gov", pattern="repo:acme/app")


def test_credential_must_match_project_environment_and_caller(org_a, people, chat_model,
                                                              fields, project_a, identity):
    row = create(org_a, people, [chat_model], **fields(workload_identity=identity))
    assert row.credential == identity
    staging = project_a.environments.get(tier="staging")
    with pytest.raises(ValidationError) as exc:
        create(org_a, people, [chat_model], **fields(environment=staging,
                                                     workload_identity=identity))
    assert "workload_identity" in errors_of(exc)


def test_api_key_credential_and_at_most_one_credential(org_a, people, chat_model, fields,
                                                       production, caller_a, identity):
    from tests.projects.conftest import make_key

    key, _ = make_key(org_a, people["owner"], production, caller_a)
    row = create(org_a, people, [chat_model], **fields(api_key=key))
    assert row.credential == key
    with pytest.raises(ValidationError) as exc:
        create(org_a, people, [chat_model], **fields(api_key=key, workload_identity=identity))
    assert "api_key" in errors_of(exc)
    with pytest.raises(IntegrityError):  # and the database agrees
        PolicyRow.objects.filter(pk=row.pk).update(workload_identity=identity)


def test_fallback_must_cover_same_caller_environment_actions_and_classes(
        org_a, people, chat_model, fields, project_a, make_row):
    narrow = make_row(allowed_actions=["chat"])
    with pytest.raises(ValidationError) as exc:
        create(org_a, people, [chat_model], **fields(fallback_row=narrow))
    assert "every action" in errors_of(exc)["fallback_row"][0]
    staging = project_a.environments.get(tier="staging")
    elsewhere = make_row(environment=staging)
    with pytest.raises(ValidationError) as exc:
        create(org_a, people, [chat_model], **fields(fallback_row=elsewhere))
    assert "same caller and environment" in errors_of(exc)["fallback_row"][0]
    good = make_row()
    assert create(org_a, people, [chat_model], **fields(fallback_row=good)).fallback_row == good


@pytest.mark.parametrize("status", sorted(set(S.values) - {S.DRAFT, S.CHANGES_REQUESTED,
                                                           S.REJECTED}))
def test_rows_are_edited_only_while_with_the_requester(status, org_a, make_row, people):
    row = make_row(status)
    with pytest.raises(InvalidTransition):
        services.row_update(org=org_a, actor=people["requester"], row=row,
                            business_reason="New reason")
    assert PolicyRow.objects.get(pk=row.pk).version == 1


def test_only_requester_app_owner_or_admin_edit(org_a, make_row, people):
    row = make_row()
    with pytest.raises(PermissionDenied):
        services.row_update(org=org_a, actor=people["security"], row=row,
                            business_reason="Mine now")
    for who in ("requester", "app_owner", "admin"):
        row = services.row_update(org=org_a, actor=people[who], row=row,
                                  business_reason=f"By {who}")
    assert row.version == 4


def test_update_refuses_unknown_fields(org_a, make_row, people):
    with pytest.raises(ValidationError):
        services.row_update(org=org_a, actor=people["requester"], row=make_row(),
                            status=S.ACTIVE)


def test_update_of_models_bumps_version(org_a, make_row, people, snapshot):
    row = make_row()
    other = make_entry(snapshot, "gpt-other")
    row = services.row_update(org=org_a, actor=people["requester"], row=row,
                              approved_models=[other])
    assert row.version == 2 and list(row.approved_models.all()) == [other]


# The screen step


def screen(org, people, row):
    return services.row_screen(org=org, actor=people["admin"], row=row)


def test_screen_records_findings_against_the_current_snapshot(org_a, make_row, people,
                                                              chat_model):
    newer = make_snapshot(org_a, day=date(2026, 11, 20), sha="b")
    current = make_entry(newer, "gpt-chat")
    row = screen(org_a, people, make_row(S.SUBMITTED))
    [finding] = row.screening["models"]
    assert finding["snapshot"] == str(newer.public_id)
    assert finding["current_entry"] == str(current.public_id)
    assert finding["actions"] == {"chat": True, "chat_stream": True}
    assert row.screening["ok"] and row.screened_at is not None


def test_screen_refuses_model_missing_from_current_snapshot(org_a, make_row, people):
    make_entry(make_snapshot(org_a, day=date(2026, 11, 20), sha="b"), "gpt-successor")
    row = make_row(S.SUBMITTED)
    before = Counts(org_a)
    with pytest.raises(ValidationError) as exc:
        screen(org_a, people, row)
    assert "openai/gpt-chat: not in the current litellm" in errors_of(exc)["approved_models"][0]
    assert PolicyRow.objects.get(pk=row.pk).status == S.SUBMITTED
    assert before.new_audit() == []


def test_screen_ignores_newer_snapshots_of_other_sources(org_a, make_row, people):
    make_snapshot(org_a, source="modelsdev", day=date(2026, 11, 21), sha="c")
    assert screen(org_a, people, make_row(S.SUBMITTED)).status == S.SCREENING


def test_screen_refuses_unavailable_model(org_a, make_row, people, snapshot):
    old = make_entry(snapshot, "gpt-old", availability="deprecated")
    with pytest.raises(ValidationError) as exc:
        screen(org_a, people, make_row(S.SUBMITTED, models=[old]))
    assert "deprecated" in errors_of(exc)["approved_models"][0]


def test_screen_refuses_action_the_model_cannot_serve(org_a, make_row, people, snapshot):
    # Filed when both models served both actions (row_create refuses otherwise); the
    # current catalog has narrowed each to one family since.
    both = ("chat_completions", "embeddings")
    embed = make_entry(snapshot, "embed", families=both)
    chat = make_entry(snapshot, "chat-2", families=both)
    row = make_row(S.SUBMITTED, models=[embed, chat], allowed_actions=["chat", "embeddings"])
    newer = make_snapshot(org_a, day=date(2026, 11, 20), sha="b")
    make_entry(newer, "embed", families=("embeddings",))
    make_entry(newer, "chat-2")
    with pytest.raises(ValidationError) as exc:
        screen(org_a, people, row)
    problems = errors_of(exc)["approved_models"]
    # Catalog order (platform, model id): one line per model, naming what it cannot serve.
    assert problems == ["openai/chat-2: cannot serve embeddings",
                        "openai/embed: cannot serve chat"]


def test_only_platform_screens(org_a, make_row, people):
    with pytest.raises(PermissionDenied):
        services.row_screen(org=org_a, actor=people["requester"], row=make_row(S.SUBMITTED))


# Owners who leave


def test_owner_of_a_live_row_cannot_be_removed(org_a, make_row, people):
    make_row(S.ACTIVE)
    with pytest.raises(ValidationError, match="live policy rows"):
        membership_remove(org=org_a, actor=people["owner"], membership=people["app_owner"])


def test_owner_of_finished_rows_only_can_be_removed(org_a, make_row, people):
    row = make_row(S.REVOKED)
    membership_remove(org=org_a, actor=people["owner"], membership=people["app_owner"])
    assert PolicyRow.objects.get(pk=row.pk).app_owner is None
    assert AuditEvent.objects.for_org(org_a).filter(action="member.removed").exists()


def test_requester_can_leave(org_a, make_row, people):
    row = make_row()
    membership_remove(org=org_a, actor=people["owner"], membership=people["requester"])
    assert PolicyRow.objects.get(pk=row.pk).requested_by is None


def test_screen_refuses_a_revoked_key(org_a, make_row, people, production, caller_a):
    from projects.models import ApiKey
    from tests.projects.conftest import make_key

    key, _ = make_key(org_a, people["owner"], production, caller_a)
    row = make_row(S.SUBMITTED, api_key=key)
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    with pytest.raises(ValidationError) as exc:
        screen(org_a, people, row)
    assert "revoked" in errors_of(exc)["api_key"][0]


def test_screen_takes_a_key_rotated_since_as_live_and_refuses_a_revoked_one(
        org_a, make_row, people, production, caller_a):
    from projects.keys import key_create, key_revoke, key_rotate

    key, _ = key_create(org=org_a, actor=people["owner"], project=production.project,
                        environment=production, caller=caller_a, name="support")
    row = make_row(S.SUBMITTED, api_key=key)
    successor, _ = key_rotate(org=org_a, actor=people["owner"], key=key, overlap_seconds=0)
    assert screen(org_a, people, row).status == S.SCREENING  # the successor is live

    revoked, _ = key_create(org=org_a, actor=people["owner"], project=production.project,
                            environment=production, caller=caller_a, name="gone")
    key_revoke(org=org_a, actor=people["owner"], key=revoked, reason="retired")
    other = make_row(S.SUBMITTED, api_key=revoked)
    with pytest.raises(ValidationError, match="is revoked; name a live key"):
        screen(org_a, people, other)
    assert PolicyRow.objects.get(pk=other.pk).status == S.SUBMITTED
