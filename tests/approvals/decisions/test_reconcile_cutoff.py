"""Quota cutoff through reconciliation: usage imported past a row's cap makes the decision
service deny a row whose cutoff is "block" (issue #8), and only warn for "alert only"."""

import pytest
from django.utils import timezone

from approvals.decisions.engine import Reason
from approvals.models import PolicyRow
from approvals.reconcile import reconcile_import
from tests.approvals.decisions.test_decisions_service import one
from tests.approvals.usage import make_import, make_record

pytestmark = pytest.mark.django_db


def import_spend(org, key, cost):
    job = make_import(org)
    make_record(job, cost=cost, at=timezone.now(), api_key=key, project=key.project,
                environment=key.environment, caller=key.caller)
    return reconcile_import(org=org, job=job)


def test_usage_reaching_the_monthly_budget_blocks_the_row(org_a, key, secret, live_row):
    live_row(daily_cap=None)
    import_spend(org_a, key[0], "499.99")
    assert one(secret).allow
    import_spend(org_a, key[0], "0.01")  # 100 %: the cutoff
    decision = one(secret)
    assert decision.reasons == (Reason.OVER_MONTHLY_BUDGET,) and not decision.allow


def test_usage_reaching_the_daily_cap_blocks_the_row_for_the_day(org_a, key, secret,
                                                                 live_row):
    live_row()  # daily cap 40
    import_spend(org_a, key[0], "40")
    assert one(secret).reasons == (Reason.OVER_DAILY_CAP,)


def test_alert_only_rows_keep_allowing_with_a_warning(org_a, key, secret, live_row):
    live_row(cutoff_behaviour=PolicyRow.Cutoff.ALERT_ONLY, daily_cap=None)
    import_spend(org_a, key[0], "650")
    decision = one(secret)
    assert decision.allow and decision.warnings == (Reason.OVER_MONTHLY_BUDGET,)
