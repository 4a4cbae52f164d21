"""decide() end to end on the database: every reason code, deny rules, budgets from spend
counters, credential failures, the query budget of a cached decision, and invalidation by
every approvals service that changes what the engine reads."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.cache import caches
from django.utils import timezone

from approvals.decisions.engine import Reason
from approvals.decisions.models import SpendCounter
from approvals.decisions.service import clear_local_cache as clear_indexes
from approvals.decisions.service import decide
from approvals.decisions.spend import spend_add
from approvals.decisions.versions import decisions_changed
from approvals.models import PolicyRow
from approvals.services import deny_rule_create, deny_rule_deactivate, row_revoke, row_suspend
from projects import keys
from projects.credentials import clear_local_cache as clear_credentials
from projects.models import ApiKey, WorkloadIdentity, WorkloadToken
from projects.secrets import WORKLOAD, hash_secret, new_secret
from tests.approvals.conftest import attach_required_evidence, propose_renewal
from tests.approvals.decisions.conftest import ask
from tests.projects.conftest import make_key

pytestmark = pytest.mark.django_db
S = PolicyRow.Status


def one(secret, **query):
    org, decisions = decide(secret, [ask(**query)])
    return decisions[0]


def test_an_active_row_allows_its_model_action_and_data_class(org_a, secret, live_row):
    row = live_row()
    decision = one(secret)
    assert decision.allow and decision.reasons == (Reason.ALLOW,)
    assert decision.row == str(row.public_id)
    assert decision.remaining == {"daily": Decimal("40.00"), "monthly": Decimal("500.00")}
    assert decide(secret, [ask()])[0] == org_a
    # The platform-qualified name works too; another platform's does not.
    assert one(secret, model="openai/gpt-chat").allow
    assert one(secret, model="azure/gpt-chat").reasons == (Reason.NO_MATCHING_ROW,)


@pytest.mark.parametrize("query", [
    {"model": "gpt-other"}, {"action": "embeddings"}, {"data_class": "customer_pii"},
])
def test_anything_the_row_does_not_list_is_denied(secret, live_row, query):
    live_row()
    assert one(secret, **query).reasons == (Reason.NO_MATCHING_ROW,)


@pytest.mark.parametrize("status, reason", [
    (S.SUSPENDED, Reason.ROW_SUSPENDED), (S.REVOKED, Reason.ROW_REVOKED),
    (S.EXPIRED, Reason.ROW_EXPIRED), (S.IN_REVIEW, Reason.ROW_NOT_ACTIVE),
])
def test_rows_that_are_not_live_deny_with_their_reason(secret, live_row, status, reason):
    row = live_row(status)
    decision = one(secret)
    assert not decision.allow and decision.reasons == (reason,)
    assert decision.row == str(row.public_id)


@pytest.mark.parametrize("status", [S.REVOKED, S.EXPIRED])
def test_a_row_finished_over_a_month_ago_is_no_row_at_all(org_a, secret, live_row, status):
    row = live_row(status)
    PolicyRow.objects.filter(pk=row.pk).update(
        status_changed_at=timezone.now() - timedelta(days=32))
    decisions_changed(org_a)
    decision = one(secret)
    assert (decision.reasons, decision.row) == ((Reason.NO_MATCHING_ROW,), None)


def test_a_draft_row_is_no_row_at_all(secret, make_row):
    make_row()
    assert one(secret).reasons == (Reason.NO_MATCHING_ROW,)


def test_a_row_past_its_renewal_date_denies(secret, live_row):
    row = live_row()
    PolicyRow.objects.filter(pk=row.pk).update(
        renewal_date=timezone.now().date() - timedelta(days=1))
    decisions_changed(row.org_id)
    assert one(secret).reasons == (Reason.ROW_EXPIRED,)


def test_the_renewal_due_state_still_allows(secret, live_row):
    assert one(secret).reasons == (Reason.NO_MATCHING_ROW,)
    live_row(S.RENEWAL_DUE)
    assert one(secret).allow


def test_spend_reaching_a_cap_denies_and_names_the_budget(org_a, secret, live_row):
    row = live_row()
    spend_add(org=org_a, row=row, amount="39.99")
    decision = one(secret)
    assert decision.allow and decision.remaining["daily"] == Decimal("0.01")
    spend_add(org=org_a, row=row, amount="0.01")
    decision = one(secret)
    assert decision.reasons == (Reason.OVER_DAILY_CAP,)
    assert "daily cap" in decision.message and "40.00" in decision.message
    # Without a daily cap, the month decides.
    PolicyRow.objects.filter(pk=row.pk).update(daily_cap=None)
    spend_add(org=org_a, row=row, amount="460")  # also makes the change seen
    assert one(secret).reasons == (Reason.OVER_MONTHLY_BUDGET,)
    assert SpendCounter.objects.get(row=row, period="month").amount == Decimal("500")


def test_alert_only_cutoff_allows_over_budget_with_a_warning(org_a, secret, live_row):
    row = live_row(cutoff_behaviour="alert_only")
    spend_add(org=org_a, row=row, amount="41")
    decision = one(secret)
    assert decision.allow and decision.warnings == (Reason.OVER_DAILY_CAP,)
    # Never a negative remainder: 0 and the warning say "over".
    assert decision.as_dict()["remaining_budget"] == {"daily": "0.00", "monthly": "459.00"}


def test_remaining_budget_has_two_decimals_rounded_down(org_a, secret, live_row):
    row = live_row()
    spend_add(org=org_a, row=row, amount="12.3456")  # counters keep four decimals
    decision = one(secret)
    assert decision.as_dict()["remaining_budget"] == {"daily": "27.65", "monthly": "487.65"}
    assert decision.warnings == ()


def test_an_org_deny_rule_beats_the_row_until_lifted(org_a, people, secret, live_row):
    live_row()
    rule = deny_rule_create(org=org_a, actor=people["security"], reason="Vendor under review",
                            owner=people["security"], model_id="gpt-chat")
    decision = one(secret)
    assert decision.reasons == (Reason.DENIED_BY_RULE,) and decision.rule == str(rule.public_id)
    assert "Vendor under review" in decision.message
    deny_rule_deactivate(org=org_a, actor=people["security"], rule=rule, reason="Cleared")
    assert one(secret).allow


def test_a_row_bound_to_another_key_does_not_cover_this_one(org_a, people, production,
                                                            caller_a, secret, live_row):
    other, _ = make_key(org_a, people["owner"], production, caller_a, name="other")
    live_row(api_key=other)
    assert one(secret).reasons == (Reason.NO_MATCHING_ROW,)


def test_credential_failures_deny_every_query(org_a, people, key, live_row):
    live_row()
    api_key, secret = key
    assert decide("gvk_nonsense", [ask(), ask()])[1][1].reasons == (Reason.CREDENTIAL_UNKNOWN,)
    assert one(secret, environment="staging").reasons == (Reason.WRONG_ENVIRONMENT,)
    assert one(secret, environment=str(api_key.environment.public_id)).allow
    ApiKey.objects.filter(pk=api_key.pk).update(expires_at=timezone.now())
    clear_credentials()  # as if this process first saw the key after it expired
    assert one(secret).reasons == (Reason.CREDENTIAL_EXPIRED,)
    keys.key_revoke(org=org_a, actor=people["owner"], key=ApiKey.objects.get(pk=api_key.pk),
                    reason="leaked")
    org, decisions = decide(secret, [ask()])
    assert org is None and decisions[0].reasons == (Reason.CREDENTIAL_REVOKED,)


def test_a_fallback_is_offered_only_under_its_own_live_row(org_a, secret, live_row,
                                                           snapshot):
    from tests.approvals.conftest import make_entry

    backup_model = make_entry(snapshot, "gpt-backup")
    backup = live_row(models=[backup_model])
    main = live_row()
    PolicyRow.objects.filter(pk=main.pk).update(fallback_row=backup)
    decision = one(secret)
    assert decision.row == str(main.public_id)
    assert decision.fallbacks == ({"row": str(backup.public_id),
                                   "models": ["openai/gpt-backup"]},)
    PolicyRow.objects.filter(pk=backup.pk).update(status=S.SUSPENDED)
    decisions_changed(org_a)
    assert one(secret).fallbacks == ()


def test_a_cached_decision_costs_no_query(secret, live_row, django_assert_num_queries):
    live_row()
    assert one(secret).allow  # fills the credential cache and the org's index
    with django_assert_num_queries(0):
        for _ in range(50):
            assert one(secret).allow


def spy_cache(monkeypatch, fail=False):
    """Record (or refuse) every read and write of the default cache backend."""
    backend, calls = type(caches["default"]), []
    def spying(name, original):
        def spy(self, *args, **kwargs):
            calls.append(name)
            if fail:
                raise ConnectionError("cache down")
            return original(self, *args, **kwargs)
        return spy
    for name in ("get", "get_many", "add", "incr", "set"):
        monkeypatch.setattr(backend, name, spying(name, getattr(backend, name)))
    return calls


def test_a_cached_decision_costs_one_cache_round_trip(secret, live_row, monkeypatch):
    live_row()
    assert one(secret).allow  # remembers the credential's org
    calls = spy_cache(monkeypatch)
    for _ in range(5):
        assert one(secret).allow
    # The credential generation and the org's version, read together.
    assert calls == ["get_many"] * 5


def test_with_the_cache_down_decisions_come_from_the_database(secret, live_row, monkeypatch,
                                                             django_assert_num_queries):
    row = live_row()
    assert one(secret).allow
    spy_cache(monkeypatch, fail=True)
    PolicyRow.objects.filter(pk=row.pk).update(status=S.SUSPENDED)  # no bump reaches anyone
    # The credential, its last-used stamp (no shared flag to skip it), the index (six).
    with django_assert_num_queries(8):
        assert one(secret).reasons == (Reason.ROW_SUSPENDED,)


def test_an_index_rebuild_costs_six_queries(org_a, secret, live_row,
                                             django_assert_num_queries):
    live_row()
    assert one(secret).allow
    decisions_changed(org_a)
    # rows, models, pending renewals, deny rules, spend, log setting
    with django_assert_num_queries(6):
        assert one(secret).allow


def test_revoking_or_suspending_a_row_denies_the_next_decision(org_a, people, secret,
                                                               live_row):
    row = live_row()
    assert one(secret).allow
    row_suspend(org=org_a, actor=people["security"], row=row, reason="incident")
    assert one(secret).reasons == (Reason.ROW_SUSPENDED,)
    row_revoke(org=org_a, actor=people["security"], row=PolicyRow.objects.get(pk=row.pk),
               reason="incident confirmed")
    assert one(secret).reasons == (Reason.ROW_REVOKED,)


def test_spend_add_refuses_another_orgs_row_and_negative_amounts(org_a, org_b, live_row):
    row = live_row()
    with pytest.raises(ValueError):
        spend_add(org=org_b, row=row, amount="1")
    with pytest.raises(ValueError):
        spend_add(org=org_a, row=row, amount="-1")


def test_a_row_bound_to_a_workload_identity_admits_only_its_tokens(org_a, production,
                                                                   caller_a, secret, live_row):
    identity = WorkloadIdentity.objects.create(
        org=org_a, project=production.project, environment=production, caller=caller_a,
        name="ci", issuer="https://token.actions.githubusercontent.com", audience="gov",
        pattern="repo:acme/app:ref:refs/heads/main")

    def token(identity):
        token_secret = new_secret(WORKLOAD)
        WorkloadToken.objects.create(
            org=org_a, identity=identity, project=production.project, environment=production,
            caller=caller_a, secret_hash=hash_secret(token_secret), issuer=identity.issuer,
            jti=token_secret[-12:], subject="repo:acme/app:ref:refs/heads/main",
            expires_at=timezone.now() + timedelta(minutes=15))
        return token_secret

    live_row(workload_identity=identity)
    assert one(token(identity)).allow
    assert one(secret).reasons == (Reason.NO_MATCHING_ROW,)  # the team key is not the CI job


def test_an_unsigned_renewal_does_not_extend_what_the_gateway_allows(org_a, people, secret,
                                                                     live_row):
    """A renewal review that proposed a new date already wrote it on the row; until the
    three re-sign, the gateway holds the row to its previous date."""
    row = live_row(PolicyRow.Status.RENEWAL_DUE,
                   renewal_date=timezone.localdate() + timedelta(days=3))
    attach_required_evidence(row, people)
    propose_renewal(org_a, row, people, days=80)
    row.refresh_from_db()
    assert row.renewal_date == timezone.localdate() + timedelta(days=80)
    assert one(secret).allow  # before the previous date: still allowed
    with time_machine.travel(timezone.now() + timedelta(days=5), tick=False):
        clear_indexes()
        decision = one(secret)
    assert not decision.allow and decision.reasons == (Reason.ROW_EXPIRED,)
