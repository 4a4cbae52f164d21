"""Issue 12.7: a NUL character in a usage or billing line (PostgreSQL text cannot hold
one) is that line's field error, over the API and in every file format, never a 500 or
an import that "stopped on an internal error"; and nothing is written."""

import pytest

from evidence.models import BillingLine, UsageImport, UsageRecord
from evidence.usage.services import usage_import_run
from orgs.audit import AuditEvent
from tests.conftest import login
from tests.evidence.test_usage_api import LINES, push
from tests.evidence.usage_helpers import example

pytestmark = pytest.mark.django_db
NUL_MESSAGE = "Must not contain NUL (\\x00) characters."


@pytest.mark.parametrize("field", ["model", "project", "id", "caller"])
def test_a_nul_in_a_pushed_usage_line_is_that_lines_field_error(client, owner, org_a, field):
    login(client, owner)
    lines = [LINES[0], {**LINES[1], field: "bad\x00value"}]
    response = push(client, lines)
    assert response.status_code == 400, response.content
    assert response.json() == {"lines": {"2": {field: [NUL_MESSAGE]}}}
    assert not UsageRecord.objects.for_org(org_a).exists()
    assert not UsageImport.objects.for_org(org_a).exists()
    assert not AuditEvent.objects.for_org(org_a).filter(action="usage.imported").exists()


def test_a_nul_in_a_pushed_billing_line_is_that_lines_field_error(client, owner, org_a):
    login(client, owner)
    line = {"id": "inv-1", "period_start": "2026-11-01", "period_end": "2026-11-30",
            "provider": "openai", "description": "Nov\x00ember", "amount_usd": "1.00"}
    response = push(client, [line], path="billing-lines/")
    assert response.status_code == 400, response.content
    assert response.json() == {"lines": {"1": {"description": [NUL_MESSAGE]}}}
    assert not BillingLine.objects.for_org(org_a).exists()


# (kind, source, example file, text replaced, its replacement, line, field); a CSV's
# header is its line 1, a JSON file's records count from 1.
FILES = [
    ("usage", "api", "generic-usage.csv", b"support-bot", b"support\x00bot", 2, "project"),
    ("usage", "litellm", "litellm-spendlogs.csv", b"chatcmpl-9a1b2c3d", b"chatcmpl\x009a",
     2, "request_id"),
    ("usage", "litellm", "litellm-spendlogs.json", b'"gpt-test"', b'"gpt\\u0000test"', 1,
     "model"),
    ("usage", "openai", "openai-completions.json", b'"key_abc123"', b'"key\\u0000abc"', 1,
     "api_key_id"),
    ("usage", "anthropic", "anthropic-messages.json", b'"support-bot"', b'"support\\u0000"',
     1, "workspace_id"),
    ("billing", "api", "generic-billing.csv", b"November usage", b"Nov\x00ember", 2,
     "description"),
]


@pytest.mark.parametrize("kind,source,name,old,new,line,field", FILES)
def test_a_nul_in_an_uploaded_file_names_the_line(org_a, owner, kind, source, name, old, new,
                                                  line, field):
    data = example(name).replace(old, new, 1)
    assert data != example(name)
    job = UsageImport.objects.create(org=org_a, kind=kind, source=source, source_ref=name,
                                     payload=data, created_by=owner)
    failed = usage_import_run(org=org_a, job_id=job.pk)
    assert failed.status == "failed", failed.report
    assert "internal error" not in failed.report["error"]
    assert [(e["line"], e["field"], e["message"]) for e in failed.report["errors"]] == [
        (line, field, NUL_MESSAGE)]
    assert not UsageRecord.objects.for_org(org_a).exists()
    assert not BillingLine.objects.for_org(org_a).exists()


def test_a_json_file_nested_too_deep_is_a_file_error_not_an_internal_one(org_a, owner):
    job = UsageImport.objects.create(org=org_a, kind="usage", source="litellm",
                                     source_ref="deep.json", payload=b"[" * 100_000,
                                     created_by=owner)
    failed = usage_import_run(org=org_a, job_id=job.pk)
    assert failed.status == "failed"
    assert failed.report["error"].startswith("Not valid JSON (nested deeper than")


def test_a_nul_in_an_uploaded_files_name_is_not_a_500(client, owner, org_a):
    from django.core.files.uploadedfile import SimpleUploadedFile

    login(client, owner)
    upload = SimpleUploadedFile("usage\x00.csv", example("generic-usage.csv"))
    response = client.post("/api/v1/o/acme/usage/imports/",
                           {"kind": "usage", "source": "api", "file": upload})
    assert response.status_code in (202, 400), response.content
    if response.status_code == 202:
        job = UsageImport.objects.for_org(org_a).get()
        assert "\x00" not in job.source_ref
