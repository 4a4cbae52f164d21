"""Usage and billing imports through the service: each format into the right records,
attribution, pricing from the catalog, bad files writing nothing, idempotent re-imports,
the audit event and the usage_imported signal after commit."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from evidence.models import BillingLine, UsageImport, UsageRecord
from evidence.signals import usage_imported
from evidence.usage.services import Pricer, UsageFileError, usage_import_run
from orgs.audit import AuditEvent
from orgs.events import NotificationEvent
from tests.evidence.usage_helpers import example, priced_catalog, run_import
from tests.projects.conftest import make_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def production(project_a):
    return project_a.environments.get(tier="production")


@pytest.fixture
def key(org_a, owner, production, caller_a):
    return make_key(org_a, owner, production, caller_a, name="support prod")[0]


def records(org):
    return {r.source_id: r for r in UsageRecord.objects.for_org(org)}


@pytest.mark.parametrize("name", ["litellm-spendlogs.json", "litellm-spendlogs.csv"])
def test_litellm_spend_logs_become_attributed_records(org_a, owner, key, project_a,
                                                      production, caller_a, name):
    job = run_import(org_a, owner, example(name, key), source="litellm", name=name)
    assert job.status == "succeeded" and job.report["added"] == 2
    chat, embedding = records(org_a)["chatcmpl-9a1b2c3d"], records(org_a)["emb-77"]
    assert chat.occurred_at == datetime(2026, 11, 1, 9, 15, 2, 123000, tzinfo=UTC)
    assert (chat.model, chat.provider, chat.action) == ("gpt-test", "openai", "chat")
    assert (chat.input_tokens, chat.output_tokens, chat.cost_usd) == (1200, 300,
                                                                       Decimal("0.00123"))
    assert (chat.api_key, chat.project, chat.environment, chat.caller) == (
        key, project_a, production, caller_a)
    assert chat.import_job_id == job.pk and chat.source == "litellm"
    # Names the org does not know stay as reported, unresolved (reconciliation's business).
    assert embedding.action == "embeddings" and embedding.api_key_ref == "unknown-key"
    assert embedding.project is None and embedding.api_key is None
    assert embedding.project_ref == "ghost-team"


@pytest.mark.parametrize("name", ["openai-completions.json", "openai-completions.csv"])
def test_openai_buckets_are_priced_from_the_newest_catalog(org_a, owner, project_a, name):
    priced_catalog(org_a)
    job = run_import(org_a, owner, example(name), source="openai", name=name)
    lines = sorted(UsageRecord.objects.for_org(org_a), key=lambda r: r.model)
    assert [r.model for r in lines] == ["gpt-test", "gpt-unpriced"]
    priced, unpriced = lines
    assert priced.occurred_at == datetime(2026, 11, 1, tzinfo=UTC)
    assert (priced.requests, priced.input_tokens, priced.output_tokens) == (140, 120000, 30000)
    # 120k in at 2.50 + 30k out at 10.00 per 1M tokens
    assert priced.cost_usd == Decimal("0.6") and priced.project == project_a
    assert priced.source_id.startswith("h:") and unpriced.action == "batch"
    assert unpriced.cost_usd == 0 and unpriced.project is None
    assert job.report["priced_from_catalog"] == 1
    assert job.report["unpriced_models"] == {"gpt-unpriced": 1} and "cost 0" in job.report["note"]


def test_the_json_and_csv_exports_of_one_report_are_the_same_lines(org_a, owner):
    run_import(org_a, owner, example("openai-completions.json"), source="openai")
    again = run_import(org_a, owner, example("openai-completions.csv"), source="openai")
    assert again.report == {**again.report, "added": 0, "duplicates": 2}


def test_anthropic_messages_report_sums_every_input_token(org_a, owner, project_a):
    run_import(org_a, owner, example("anthropic-messages.json"), source="anthropic")
    line = UsageRecord.objects.for_org(org_a).get()
    assert (line.model, line.provider, line.requests) == ("claude-test", "anthropic", 0)
    assert (line.input_tokens, line.output_tokens) == (1500 + 1000 + 500 + 200, 500)
    assert line.api_key_ref == "apikey_01Rj2N8SVvo6BePZj99NhmiT"
    assert line.project == project_a  # the workspace id names the project's slug


def test_generic_usage_csv_takes_the_keys_environment_unless_it_names_one(
        org_a, owner, key, project_a, production):
    run_import(org_a, owner, example("generic-usage.csv", key), source="api")
    lines = records(org_a)
    assert lines["req-1"].api_key == key and lines["req-1"].environment == production
    staging = project_a.environments.get(tier="staging")
    assert lines["req-2"].environment == staging and lines["req-2"].api_key is None
    assert lines["req-2"].cost_usd == 0  # no cost and no catalog


def test_a_full_secret_is_never_stored(org_a, owner, production, caller_a):
    key, secret = make_key(org_a, owner, production, caller_a)
    data = f"occurred_at,model,api_key\n2026-11-01T00:00:00Z,gpt-test,{secret}\n".encode()
    run_import(org_a, owner, data)
    line = UsageRecord.objects.for_org(org_a).get()
    assert line.api_key_ref == key.prefix and line.api_key == key


@pytest.mark.parametrize(("source", "name", "amounts"), [
    ("openai", "openai-costs.json", {Decimal("0.06"), Decimal("1.25")}),
    ("anthropic", "anthropic-costs.json", {Decimal("1.2345")}),  # cents in the report
    ("api", "generic-billing.csv", {Decimal("412.5"), Decimal("-20")}),
])
def test_billing_lines_of_each_format(org_a, owner, project_a, source, name, amounts):
    job = run_import(org_a, owner, example(name), kind="billing", source=source)
    lines = list(BillingLine.objects.for_org(org_a))
    assert {line.amount_usd for line in lines} == amounts
    assert job.report["added"] == len(amounts)
    first = next(line for line in lines if line.project_ref)
    assert first.project == project_a and first.period_start == date(2026, 11, 1)
    assert first.period_end >= first.period_start


def test_a_bad_file_reports_each_bad_line_and_field_and_writes_nothing(org_a, owner):
    with pytest.raises(UsageFileError) as caught:
        run_import(org_a, owner, example("litellm-bad.csv"), source="litellm")
    report = caught.value.report()
    assert {(e["line"], e["field"]) for e in report["errors"]} == {
        (3, "request_id"), (4, "spend"), (4, "prompt_tokens"), (4, "startTime")}
    assert "nothing was imported" in report["error"] and report["lines"] == 3
    assert not UsageRecord.objects.for_org(org_a).exists()
    assert not AuditEvent.objects.for_org(org_a).filter(action="usage.imported").exists()


def test_a_json_record_error_names_the_record(org_a, owner):
    data = b'{"data": [{"starting_at": "2026-11-01T00:00:00Z", "results": [{"model": "m", ' \
           b'"output_tokens": -3}]}]}'
    with pytest.raises(UsageFileError) as caught:
        run_import(org_a, owner, data, source="anthropic")
    assert caught.value.report()["errors"] == [
        {"line": 1, "field": "output_tokens", "message": "Must be zero or more.",
         "record": "data[0].results[0]"}]


@pytest.mark.parametrize(("data", "message"), [
    (b"{not json", "Not valid JSON"), (b"model,cost\nx,1\n", "lacks the column(s)"),
    (b"occurred_at,model\n", "no lines")])
def test_an_unreadable_file_is_one_clear_error(org_a, owner, data, message):
    with pytest.raises(UsageFileError) as caught:
        run_import(org_a, owner, data)
    assert message in caught.value.report()["error"]


def test_reimporting_the_same_file_adds_nothing(org_a, owner, key):
    data = example("litellm-spendlogs.csv", key)
    first = run_import(org_a, owner, data, source="litellm")
    second = run_import(org_a, owner, data, source="litellm")
    assert (first.report["added"], first.report["duplicates"]) == (2, 0)
    assert (second.report["added"], second.report["duplicates"]) == (0, 2)
    assert UsageRecord.objects.for_org(org_a).count() == 2


def test_the_same_ids_in_another_org_are_other_lines(org_a, org_b, owner, outsider):
    data = example("generic-usage.csv")
    run_import(org_a, owner, data)
    assert run_import(org_b, outsider, data).report["added"] == 2


def test_an_import_is_audited_and_announced_in_its_transaction(org_a, owner):
    job = run_import(org_a, owner, example("generic-usage.csv"))
    event = AuditEvent.objects.for_org(org_a).get(action="usage.imported")
    assert event.object_id == str(job.public_id) and event.actor == owner.user
    assert event.changes["added"] == [None, 2]
    note = NotificationEvent.objects.for_org(org_a).get(kind="usage.imported")
    assert note.payload["added"] == 2
    run_import(org_a, owner, example("generic-billing.csv"), kind="billing")
    assert AuditEvent.objects.for_org(org_a).filter(action="billing.imported").count() == 1


def test_usage_imported_is_sent_after_commit_with_the_job(
        org_a, owner, django_capture_on_commit_callbacks):
    received = []

    def receiver(sender, org, job, **kwargs):
        received.append((sender, org, job.pk, job.status,
                         UsageRecord.objects.for_org(org).filter(import_job=job).count()))

    usage_imported.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            job = run_import(org_a, owner, example("generic-usage.csv"))
        assert received == []  # not before the commit
        for callback in callbacks:
            callback()
    finally:
        usage_imported.disconnect(receiver)
    assert received == [(UsageImport, org_a, job.pk, "succeeded", 2)]


def test_a_job_runs_once_and_a_finished_job_is_not_rerun(org_a, owner):
    job = UsageImport.objects.create(org=org_a, kind="usage", source="api", source_ref="f.csv",
                                     payload=example("generic-usage.csv"), created_by=owner)
    done = usage_import_run(org=org_a, job_id=job.pk)
    assert done.status == "succeeded" and done.payload is None and done.percent == 100
    assert usage_import_run(org=org_a, job_id=job.pk) is None
    assert UsageRecord.objects.for_org(org_a).count() == 2


def test_a_failed_job_keeps_the_report_and_another_orgs_job_is_not_run(org_a, org_b, owner):
    job = UsageImport.objects.create(org=org_a, kind="usage", source="litellm",
                                     source_ref="bad.csv", payload=example("litellm-bad.csv"),
                                     created_by=owner)
    assert usage_import_run(org=org_b, job_id=job.pk) is None
    failed = usage_import_run(org=org_a, job_id=job.pk)
    assert failed.status == "failed" and failed.phase == "failed"
    assert len(failed.report["errors"]) == 4 and failed.payload is None


def test_a_database_error_hands_the_job_back_for_the_retry(org_a, owner, monkeypatch):
    from django.db import OperationalError

    from evidence.usage import services

    job = UsageImport.objects.create(org=org_a, kind="usage", source="api", source_ref="f.csv",
                                     payload=example("generic-usage.csv"), created_by=owner)

    def broken(**kwargs):
        raise OperationalError("connection lost")

    monkeypatch.setattr(services, "usage_import_stream", broken)
    with pytest.raises(OperationalError):
        usage_import_run(org=org_a, job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "queued" and job.payload  # the retry claims it again
    monkeypatch.undo()
    assert usage_import_run(org=org_a, job_id=job.pk).status == "succeeded"


@pytest.mark.parametrize("model", ["GPT-Test", " gpt-test ", "OpenAI/GPT-Test"])
def test_a_usage_line_is_priced_however_its_model_is_spelled(org_a, model):
    priced_catalog(org_a, "Gpt-Test")
    # Model ids compare as evidence/model_ids.py says: case and spaces do not count.
    assert Pricer(org_a)._lookup(model, "openai") == (Decimal("2.5"), Decimal("10"))
