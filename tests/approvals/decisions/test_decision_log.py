"""The decision log: what gets recorded per the org's setting (off, sampled, full), that
the buffer never slows or breaks a decision, and who may read the page and the API."""

import random
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from approvals.decisions import log as decision_log
from approvals.decisions.engine import Reason
from approvals.decisions.log import DecisionBuffer
from approvals.decisions.service import decide
from approvals.decisions.versions import decisions_changed
from approvals.models import ApprovalSettings, DecisionRecord
from orgs.roles import Role
from tests.approvals.decisions.conftest import ask
from tests.conftest import ROLES, login

pytestmark = pytest.mark.django_db
Mode = ApprovalSettings.DecisionLog
AUDIT_READERS = {Role.OWNER, Role.ADMIN, Role.SECURITY, Role.AUDITOR}


def set_mode(org, mode, percent=10):
    # The settings service (approvals/services/settings.py) bumps the version as here.
    ApprovalSettings.objects.update_or_create(
        org=org, defaults={"decision_log": mode, "decision_log_sample_percent": percent})
    decisions_changed(org)


def records(org):
    return list(DecisionRecord.objects.for_org(org).order_by("decided_at", "pk"))


def test_full_mode_records_every_decision_with_row_reasons_and_model(
        org_a, key, secret, live_row, caller_a):
    row = live_row()
    set_mode(org_a, Mode.FULL)
    decide(secret, [ask(), ask(model="gpt-other"), ask(environment="staging")])
    assert records(org_a) == []  # buffered: nothing written on the request path
    assert decision_log.flush() == 3
    allowed, denied, wrong_env = records(org_a)
    assert (allowed.allowed, allowed.reasons, str(allowed.row_public_id)) == (
        True, [Reason.ALLOW], str(row.public_id))
    assert (allowed.model, allowed.action, allowed.data_class, allowed.environment) == (
        "gpt-chat", "chat", "internal", "production")
    assert allowed.caller_id == caller_a.pk and not allowed.sampled
    assert allowed.credential_kind == "api_key"
    assert allowed.credential_public_id == key[0].public_id
    assert (denied.allowed, denied.reasons, denied.model) == (
        False, [Reason.NO_MATCHING_ROW], "gpt-other")
    assert wrong_env.reasons == [Reason.WRONG_ENVIRONMENT]


def test_off_mode_records_no_decision(org_a, secret, live_row):
    live_row()
    set_mode(org_a, Mode.OFF)
    for _ in range(20):
        decide(secret, [ask()])
    assert decision_log.flush() == 0
    assert records(org_a) == []


def test_sampled_mode_records_about_its_percentage(org_a, secret, live_row, monkeypatch):
    live_row()
    set_mode(org_a, Mode.SAMPLED, percent=25)
    seeded = random.Random(10)
    monkeypatch.setattr("approvals.decisions.service.random", seeded.random)
    for _ in range(400):
        decide(secret, [ask()])
    decision_log.flush()
    logged = records(org_a)
    assert 70 <= len(logged) <= 130  # 100 expected; seeded, so the count never flakes
    assert all(r.sampled for r in logged)


def test_an_org_without_settings_samples_by_default(org_a, secret, live_row):
    live_row()
    for _ in range(300):
        decide(secret, [ask()])
    decision_log.flush()
    assert 5 <= len(records(org_a)) <= 70  # the default 10 % of 300


def test_changing_the_mode_applies_to_the_next_decision(org_a, secret, live_row):
    live_row()
    set_mode(org_a, Mode.OFF)
    decide(secret, [ask()])
    set_mode(org_a, Mode.FULL)
    decide(secret, [ask()])
    decision_log.flush()
    assert len(records(org_a)) == 1


def test_a_logged_cached_decision_costs_no_query(org_a, secret, live_row,
                                                 django_assert_num_queries):
    live_row()
    set_mode(org_a, Mode.FULL)
    assert decide(secret, [ask()])[1][0].allow  # fills the credential cache and the index
    with django_assert_num_queries(0):
        for _ in range(50):
            assert decide(secret, [ask()])[1][0].allow
    assert decision_log.stats()["buffered"] == 51


def test_a_failed_write_never_reaches_the_request_and_is_counted(org_a, secret, live_row):
    live_row()
    set_mode(org_a, Mode.FULL)
    decide(secret, [ask()])
    with mock.patch.object(DecisionRecord.objects, "bulk_create",
                           side_effect=RuntimeError("database down")):
        assert decision_log.flush() == 0  # no exception
        assert decide(secret, [ask()])[1][0].allow
    assert decision_log.stats()["dropped_failed"] == 1
    decision_log.flush()  # the next batch goes through again
    assert len(records(org_a)) == 1


def test_a_full_buffer_drops_its_oldest_entries_and_counts_them():
    buffer = DecisionBuffer(max_buffered=3, batch=100)
    buffer._started = True  # no thread: this test only fills the buffer
    for i in range(5):
        buffer.append(i)
    assert buffer.stats()["dropped_overflow"] == 2
    assert list(buffer._entries) == [2, 3, 4]


def test_the_flush_thread_writes_batches_on_its_own(org_a, secret, live_row, settings,
                                                    monkeypatch):
    live_row()
    set_mode(org_a, Mode.FULL)
    buffer = DecisionBuffer(interval=0.05)
    written = []
    monkeypatch.setattr(decision_log, "buffer", buffer)
    monkeypatch.setattr(decision_log, "_write", written.extend)  # no DB from the thread
    settings.DECISION_LOG_FLUSH_THREAD = True
    decide(secret, [ask(), ask()])
    buffer.stop()
    assert [entry[8].allow for entry in written] == [True, True]


# The page and the API.

def add_records(org, n, **fields):
    now = timezone.now()
    DecisionRecord.objects.bulk_create([DecisionRecord(
        org=org, decided_at=now - timedelta(seconds=i), allowed=fields.get("allowed", True),
        reasons=fields.get("reasons", ["allow"]), model=fields.get("model", "gpt-chat"),
        action="chat", data_class="internal", environment="production",
        caller_id=fields.get("caller_id"), row_public_id=fields.get("row_public_id"))
        for i in range(n)])


def page_url(org_slug="acme"):
    return f"/o/{org_slug}/decisions/"


def api_url(org_slug="acme"):
    return f"/api/v1/o/{org_slug}/decisions/log/"


@pytest.mark.parametrize("role", ROLES)
def test_only_audit_readers_see_the_decision_log_page(client, personas, role):
    add_records(personas[role].org, 1)
    response = login(client, personas[role]).get(page_url())
    assert response.status_code == (200 if role in AUDIT_READERS else 403)


@pytest.mark.parametrize("role", ROLES)
def test_only_audit_readers_read_the_decision_log_api(personas, role):
    http = APIClient()
    http.force_authenticate(personas[role].user)
    response = http.get(api_url())
    assert response.status_code == (200 if role in AUDIT_READERS else 403)


def test_an_outsider_gets_404_on_page_and_api(client, outsider, org_a):
    add_records(org_a, 1)
    assert login(client, outsider).get(page_url()).status_code == 404
    http = APIClient()
    http.force_authenticate(outsider.user)
    assert http.get(api_url()).status_code == 404


def test_the_page_never_shows_another_orgs_decisions(client, owner, outsider):
    add_records(outsider.org, 2, model="globex-secret-model")
    add_records(owner.org, 1)
    response = login(client, owner).get(page_url())
    assert b"globex-secret-model" not in response.content
    assert response.context["page"].paginator.count == 1


def test_the_page_lists_newest_first_50_per_page(client, owner):
    add_records(owner.org, 51)
    first = login(client, owner).get(page_url())
    records_ = first.context["records"]
    assert len(records_) == 50
    assert records_[0].decided_at > records_[-1].decided_at
    assert len(client.get(page_url(), {"page": 2}).context["records"]) == 1


def test_the_page_filters_by_outcome_reason_model_row_and_dates(client, owner, caller_a):
    org = owner.org
    row_id = "6f1c4c1e-8f43-4a1e-9b51-0b5d1f6b1a11"
    add_records(org, 2, caller_id=caller_a.pk, row_public_id=row_id)
    add_records(org, 3, allowed=False, reasons=["no_matching_row"], model="gpt-other")
    login(client, owner)

    def count(**params):
        return client.get(page_url(), params).context["page"].paginator.count

    assert count(outcome="deny") == 3 and count(outcome="allow") == 2
    assert count(reason="no_matching_row") == 3 and count(reason="denied_by_rule") == 0
    assert count(model="other") == 3
    assert count(row=row_id) == 2
    today = timezone.now().date()
    assert count(since=str(today + timedelta(days=1))) == 0
    assert count(since=str(today - timedelta(days=1)), until=str(today)) == 5
    response = client.get(page_url(), {"since": str(today), "until": str(today - timedelta(1))})
    assert response.context["form"].errors["until"]
    assert b"Support bot" in client.get(page_url(), {"outcome": "allow"}).content


def test_a_bad_row_id_is_a_field_error_not_a_crash(client, owner):
    response = login(client, owner).get(page_url(), {"row": "not-a-uuid"})
    assert response.status_code == 200
    assert response.context["form"].errors["row"]


@pytest.mark.parametrize("n", [10, 200])
def test_the_page_costs_constant_queries(client, owner, caller_a, django_assert_num_queries,
                                         n):
    add_records(owner.org, n, caller_id=caller_a.pk)
    login(client, owner)
    # session, user, membership with org, count, page of records, their callers, and
    # the layout's org switcher.
    with django_assert_num_queries(7):
        assert client.get(page_url()).status_code == 200


def test_the_api_answers_records_with_public_ids_and_filters(owner, caller_a, project_a):
    add_records(owner.org, 1, allowed=False, reasons=["no_matching_row"])
    add_records(owner.org, 2, caller_id=caller_a.pk)  # newer
    http = APIClient()
    http.force_authenticate(owner.user)
    body = http.get(api_url()).json()
    assert body["count"] == 3
    first = body["results"][0]
    assert first["decision"] == "allow" and first["reasons"] == ["allow"]
    assert first["caller"] == str(caller_a.public_id)
    assert first["project"] == str(project_a.public_id)
    assert http.get(api_url(), {"decision": "deny"}).json()["count"] == 1
    bad = http.get(api_url(), {"reason": "nonsense"})
    assert bad.status_code == 400 and "reason" in bad.json()


@pytest.mark.parametrize("n", [10, 200])
def test_the_api_costs_constant_queries(owner, caller_a, django_assert_num_queries, n):
    add_records(owner.org, n, caller_id=caller_a.pk)
    http = APIClient()
    http.force_authenticate(owner.user)
    # membership with org, count, page of records, their callers.
    with django_assert_num_queries(4):
        assert http.get(api_url()).status_code == 200
