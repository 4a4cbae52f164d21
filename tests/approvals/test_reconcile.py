"""Reconciliation of usage and billing imports (approvals/reconcile.py): each rule raises its
finding once, spend reaches the counters once per (row, day), a second run changes nothing,
and threshold alerts fire once per threshold and month."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from approvals.decisions.models import SpendCounter
from approvals.models import Finding, PolicyRow, UsageReconciliation
from approvals.reconcile import model_matches, reconcile_import
from approvals.services import approval_settings_update
from evidence.models import CatalogEntry, UsageImport
from evidence.signals import usage_imported
from orgs.events import NotificationEvent
from orgs.reminders import Reminder
from tests.approvals.conftest import make_entry
from tests.approvals.usage import make_billing, make_import, make_record
from tests.factories import CallerFactory
from tests.projects.conftest import make_key

pytestmark = pytest.mark.django_db
K = Finding.Kind
DEC_1 = datetime(2026, 12, 1, 10, tzinfo=UTC)
DEC_2 = datetime(2026, 12, 2, 9, tzinfo=UTC)


@pytest.fixture
def active(make_row):
    return make_row(PolicyRow.Status.ACTIVE)


@pytest.fixture
def key(org_a, people, production, caller_a):
    return make_key(org_a, people["owner"], production, caller_a)[0]


def line(job, key, **fields):
    """A line the importer resolved through key (project, environment and caller)."""
    fields.setdefault("environment", key.environment)
    return make_record(job, api_key=key, project=key.project, caller=key.caller, **fields)


def kinds(org):
    return sorted(Finding.objects.for_org(org).values_list("kind", flat=True))


def counter(row, key):
    found = SpendCounter.objects.filter(row=row, period_key=key).first()
    return found.amount if found else None


def test_matched_usage_feeds_the_counters_once_per_row_and_day(org_a, active, key):
    job = make_import(org_a)
    line(job, key, cost="1.50", at=DEC_1)
    line(job, key, cost="2.25", at=DEC_1.replace(hour=23), model="openai/gpt-chat")
    line(job, key, cost="4.00", at=DEC_2, model="GPT-Chat")
    outcome = reconcile_import(org=org_a, job=job)
    assert (outcome.records, outcome.matched, outcome.spend_adds) == (3, 3, 2)
    assert counter(active, "2026-12-01") == Decimal("3.75")
    assert counter(active, "2026-12-02") == Decimal("4.00")
    assert counter(active, "2026-12") == Decimal("7.75")
    assert kinds(org_a) == []  # usage that matches its row raises nothing


def test_a_second_run_changes_nothing(org_a, active, key):
    job = make_import(org_a)
    line(job, key, cost="300", at=DEC_1)  # 60 %: the 50 % alert, and the daily cap
    make_record(job, at=DEC_1, project_ref="ghost")  # unowned
    first = reconcile_import(org=org_a, job=job)
    findings, events = Finding.objects.count(), NotificationEvent.objects.count()
    second = reconcile_import(org=org_a, job=job)
    assert not first.skipped and second.skipped
    assert counter(active, "2026-12") == Decimal("300")
    assert (Finding.objects.count(), NotificationEvent.objects.count()) == (findings, events)
    assert UsageReconciliation.objects.get(import_job=job).counts["findings"] == findings == 3


def test_the_signal_reconciles_the_import(org_a, active, key):
    job = make_import(org_a)
    line(job, key, cost="5", at=DEC_1)
    usage_imported.send(sender=UsageImport, org=org_a, job=job)  # eager Celery in tests
    assert counter(active, "2026-12") == Decimal("5")
    usage_imported.send(sender=UsageImport, org=org_a, job=job)  # delivered twice
    assert counter(active, "2026-12") == Decimal("5")


def test_a_job_that_failed_is_not_reconciled(org_a, active, key):
    job = make_import(org_a)
    line(job, key, cost="5", at=DEC_1)
    UsageImport.objects.filter(pk=job.pk).update(status=UsageImport.Status.FAILED)
    job.refresh_from_db()
    assert reconcile_import(org=org_a, job=job).skipped
    assert not UsageReconciliation.objects.exists()


def test_usage_with_no_active_row_raises_once_per_scope_and_month(org_a, project_a, active,
                                                                   people):
    staging = project_a.environments.get(tier="staging")
    other = CallerFactory(project=project_a, owner=people["owner"], name="batch-job")
    key = make_key(org_a, people["owner"], staging, other)[0]
    jobs = [make_import(org_a), make_import(org_a)]
    for job in jobs:  # two imports of the same kind of traffic: one finding
        line(job, key, at=DEC_1)
        line(job, key, at=DEC_2)
        reconcile_import(org=org_a, job=job)
    finding = Finding.objects.get(kind=K.USAGE_WITHOUT_ROW)
    assert finding.project == project_a and finding.row is None
    assert finding.owner == people["owner"]  # the caller's owner answers for its traffic
    assert "batch-job in staging called gpt-chat with no active row" in finding.title
    assert str(jobs[0].public_id) in finding.link  # the import that raised it
    assert finding.source_type == "usageimport"
    assert Finding.objects.count() == 1
    assert counter(active, "2026-12") is None


def test_a_row_that_is_not_in_force_does_not_cover_usage(org_a, make_row, key):
    make_row(PolicyRow.Status.IN_REVIEW)
    job = make_import(org_a)
    line(job, key, at=DEC_1)
    reconcile_import(org=org_a, job=job)
    assert kinds(org_a) == [K.USAGE_WITHOUT_ROW]


def test_a_model_outside_the_rows_scope_raises_on_the_row(org_a, active, key, snapshot):
    make_entry(snapshot, "gpt-big")  # in the catalog, not on the row
    job = make_import(org_a)
    line(job, key, model="openai/gpt-big", cost="9", at=DEC_1)
    line(job, key, model="openai/gpt-big", cost="9", at=DEC_2)
    reconcile_import(org=org_a, job=job)
    finding = Finding.objects.get()
    assert finding.kind == K.MODEL_OUT_OF_SCOPE and finding.row == active
    assert finding.detail["approved"] == ["gpt-chat"]
    assert finding.owner == active.app_owner
    assert counter(active, "2026-12") is None  # spend outside the scope is not the row's


def test_a_key_used_in_another_environment_is_critical(org_a, project_a, active, key):
    staging = project_a.environments.get(tier="staging")
    job = make_import(org_a)
    line(job, key, environment=staging, at=DEC_1)
    line(job, key, environment=staging, at=DEC_2)
    reconcile_import(org=org_a, job=job)
    wrong = Finding.objects.get(kind=K.WRONG_ENVIRONMENT)
    assert wrong.severity == Finding.Severity.CRITICAL and wrong.project == project_a
    assert wrong.detail == {"key": str(key.public_id), "key_environment": "production",
                            "used_in": "staging", "model": "gpt-chat",
                            "first_seen": DEC_1.isoformat()}
    # No row covers the caller in staging either.
    assert kinds(org_a) == [K.USAGE_WITHOUT_ROW, K.WRONG_ENVIRONMENT]


def test_calls_nobody_owns(org_a, active, key):
    job = make_import(org_a)
    make_record(job, at=DEC_1, project_ref="shadow-it", api_key_ref="sk-unknown")
    make_record(job, at=DEC_2, project_ref="shadow-it", api_key_ref="sk-unknown")
    make_record(job, at=DEC_1, project=key.project)  # a project, but no key or caller
    reconcile_import(org=org_a, job=job)
    unowned = Finding.objects.filter(kind=K.UNOWNED_CALLS)
    assert {(f.title, f.project) for f in unowned} == {
        ("Calls nobody owns: no key or caller resolved (no reference)", key.project),
        ("Calls nobody owns: no project resolved (shadow-it)", None)}


def test_a_row_without_an_app_owner_makes_its_calls_unowned(org_a, active, key, people):
    PolicyRow.objects.filter(pk=active.pk).update(app_owner=None)
    job = make_import(org_a)
    line(job, key, at=DEC_1)
    line(job, key, at=DEC_2)
    reconcile_import(org=org_a, job=job)
    finding = Finding.objects.get(kind=K.UNOWNED_CALLS)
    assert finding.row == active and finding.owner == people["owner"]  # the engineer
    assert counter(active, "2026-12") == Decimal("2.00")  # still the row's spend


def test_thresholds_alert_once_each_per_month(org_a, active, key):
    PolicyRow.objects.filter(pk=active.pk).update(daily_cap=None)  # the month only
    def spend(cost, at=DEC_1):
        job = make_import(org_a)
        line(job, key, cost=cost, at=at)
        return reconcile_import(org=org_a, job=job)

    assert spend("260").alerts == 1  # 52 % of 500: the 50 % alert
    assert spend("10").alerts == 0  # still between 50 and 80
    assert spend("150", at=DEC_2).alerts == 1  # 84 %: the 80 % alert
    assert spend("100", at=DEC_2).alerts == 1  # 104 %: the 100 % alert
    assert spend("5", at=DEC_2).alerts == 0
    assert sorted(Reminder.objects.filter(kind="usage.threshold_crossed")
                  .values_list("period", flat=True)) == ["100%:2026-12", "50%:2026-12",
                                                         "80%:2026-12"]
    events = NotificationEvent.objects.filter(kind="usage.threshold_crossed")
    assert events.count() == 3
    top = events.get(payload__period="100%:2026-12")
    assert top.severity == "critical" and top.payload["blocks"] is True
    findings = Finding.objects.filter(kind=K.SPEND_THRESHOLD).order_by("raised_at")
    assert [f.detail["threshold"] for f in findings] == [50, 80, 100]
    assert "calls are now blocked" in findings[2].title
    assert findings[2].owner == active.finance_owner
    # A new month starts the count again.
    assert spend("300", at=datetime(2027, 1, 3, tzinfo=UTC)).alerts == 1


def test_a_daily_cap_reached_alerts_once_per_day(org_a, active, key):
    job = make_import(org_a)
    line(job, key, cost="40", at=DEC_1)  # the daily cap is 40
    line(job, key, cost="39", at=DEC_2)
    reconcile_import(org=org_a, job=job)
    assert list(Reminder.objects.filter(kind="usage.daily_cap_reached")
                .values_list("period", flat=True)) == ["2026-12-01"]
    assert Finding.objects.get(kind=K.SPEND_THRESHOLD).detail["period"] == "2026-12-01"


def test_alert_only_rows_say_calls_are_not_blocked(org_a, make_row, key):
    make_row(PolicyRow.Status.ACTIVE, cutoff_behaviour="alert_only", daily_cap=None)
    job = make_import(org_a)
    line(job, key, cost="600", at=DEC_1)
    reconcile_import(org=org_a, job=job)
    top = Finding.objects.get(kind=K.SPEND_THRESHOLD, detail__threshold=100)
    assert top.detail["blocks"] is False and "blocked" not in top.title


def test_usage_differing_from_billing_beyond_the_tolerance(org_a, active, key, people,
                                                           project_a):
    usage = make_import(org_a)
    line(usage, key, cost="100", at=DEC_1)
    reconcile_import(org=org_a, job=usage)
    billing = make_import(org_a, kind=UsageImport.Kind.BILLING)
    make_billing(billing, amount="104", start=date(2026, 12, 1), end=date(2026, 12, 31),
                 project=project_a)  # within 5 %
    make_billing(billing, amount="50", start=date(2026, 12, 1), end=date(2026, 12, 31),
                 provider="anthropic", project=project_a)  # no usage at all
    reconcile_import(org=org_a, job=billing)
    finding = Finding.objects.get(kind=K.BILLING_MISMATCH)
    assert finding.project == project_a and finding.detail["provider"] == "anthropic"
    assert finding.detail["usage_usd"] == "0.00" and finding.detail["billed_usd"] == "50.00"
    # A tighter tolerance flags the OpenAI period on the next import that touches it.
    approval_settings_update(org=org_a, actor=people["admin"], billing_tolerance_percent=2)
    more = make_import(org_a)
    line(more, key, cost="0.01", at=DEC_2)
    reconcile_import(org=org_a, job=more)
    openai = Finding.objects.get(kind=K.BILLING_MISMATCH, detail__provider="openai")
    assert openai.detail["difference_usd"] == "3.99"
    assert openai.detail["tolerance_percent"] == "2.00"
    reconcile_import(org=org_a, job=make_import(org_a, kind=UsageImport.Kind.BILLING))
    assert Finding.objects.filter(kind=K.BILLING_MISMATCH).count() == 2


def test_an_import_of_another_org_is_refused(org_a, org_b):
    with pytest.raises(ValueError):
        reconcile_import(org=org_b, job=make_import(org_a))


def test_the_billing_tolerance_is_a_validated_setting(org_a, people, client):
    from django.core.exceptions import ValidationError

    from tests.conftest import login

    with pytest.raises(ValidationError) as exc:
        approval_settings_update(org=org_a, actor=people["admin"],
                                 billing_tolerance_percent=Decimal("-1"))
    assert "billing_tolerance_percent" in exc.value.message_dict
    login(client, people["auditor"])
    page = client.get("/o/acme/settings/approvals/").content.decode()
    assert "Billing tolerance" in page and "5 %" in page


def test_usage_of_a_rotated_keys_successor_counts_against_the_row_bound_to_it(
        org_a, people, make_row, key):
    from projects.keys import key_rotate

    row = make_row(PolicyRow.Status.ACTIVE, api_key=key)
    successor, _ = key_rotate(org=org_a, actor=people["owner"], key=key, overlap_seconds=3600)
    other = make_key(org_a, people["owner"], key.environment, key.caller, name="other")[0]
    job = make_import(org_a)
    line(job, successor, cost="2.00", at=DEC_1)
    line(job, other, cost="1.00", at=DEC_1)  # another lineage: still not the row's
    reconcile_import(org=org_a, job=job)
    assert counter(row, "2026-12") == Decimal("2.00")
    assert kinds(org_a) == [K.USAGE_WITHOUT_ROW]


@pytest.mark.parametrize(("name", "matched"), [
    ("GPT-4o", True), (" azure/gpt-4o ", True), ("OpenAI/gpt-4o", True),
    ("gpt-4o-mini", False), ("azure/gpt-4", False),
])
def test_usage_names_a_catalog_entry_as_decisions_do(name, matched):
    entry = CatalogEntry(platform="Azure", model_id="GPT-4o")
    assert model_matches(name, entry) is matched
