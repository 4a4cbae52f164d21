"""Usage API: batch pushes (good, bad, idempotent, too many), file upload as a job to
poll, records with filters; roles and pinned query counts."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from evidence.models import BillingLine, UsageImport, UsageRecord
from orgs.roles import Role
from tests.conftest import ROLES, login
from tests.evidence.usage_helpers import example, run_import

pytestmark = pytest.mark.django_db
BASE = "/api/v1/o/acme/usage/"
IMPORTERS = (Role.OWNER, Role.ADMIN, Role.FINANCE)
LINES = [
    {"id": "req-1", "occurred_at": "2026-11-01T10:00:00Z", "model": "gpt-test",
     "action": "chat", "project": "support-bot", "environment": "production",
     "input_tokens": 1000, "output_tokens": 200, "cost_usd": "0.0042"},
    {"occurred_at": 1793491200, "model": "gpt-test", "project": "support-bot",
     "input_tokens": 10, "output_tokens": 2, "cost_usd": 0.00001},
]


def push(client, lines, path="lines/"):
    return client.post(BASE + path, {"lines": lines}, content_type="application/json")


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_and_only_admins_owners_and_finance_push(client, personas, org_a,
                                                                  role):
    login(client, personas[role])
    assert client.get(BASE + "imports/").status_code == 200
    assert client.get(BASE + "records/").status_code == 200
    assert push(client, LINES).status_code == (200 if role in IMPORTERS else 403)


def test_outsider_gets_404(client, outsider, org_a):
    login(client, outsider)
    assert push(client, LINES).status_code == 404
    assert client.get(BASE + "records/").status_code == 404


def test_a_good_batch_is_added_once(client, owner, org_a, project_a):
    login(client, owner)
    first = push(client, LINES)
    assert first.status_code == 200
    assert first.json() | {"import_id": None} == {"import_id": None, "lines": 2, "added": 2,
                                                  "duplicates": 0}
    again = push(client, LINES).json()
    assert (again["added"], again["duplicates"]) == (0, 2)
    lines = list(UsageRecord.objects.for_org(org_a))
    assert len(lines) == 2 and all(line.project == project_a for line in lines)
    job = UsageImport.objects.for_org(org_a).get(public_id=first.json()["import_id"])
    assert job.source == "api" and job.status == "succeeded"


def test_a_bad_batch_is_400_per_line_and_field_and_writes_nothing(client, owner, org_a):
    login(client, owner)
    bad = [*LINES, {"occurred_at": "yesterday", "model": "", "cost_usd": "-1"},
           {"occurred_at": "2026-11-01", "model": "m", "action": "teleport"}]
    response = push(client, bad)
    assert response.status_code == 400
    errors = response.json()["lines"]
    assert set(errors) == {"3", "4"}
    assert set(errors["3"]) == {"occurred_at", "model", "cost_usd"}
    assert "One of" in errors["4"]["action"][0]
    assert not UsageRecord.objects.for_org(org_a).exists()
    assert not UsageImport.objects.for_org(org_a).exists()


@pytest.mark.parametrize("body", [{"lines": []}, {"lines": "x"}, {}, []])
def test_a_batch_without_lines_is_400(client, owner, org_a, body):
    login(client, owner)
    response = client.post(BASE + "lines/", body, content_type="application/json")
    assert response.status_code == 400 and "lines" in response.json()


def test_more_than_ten_thousand_lines_are_refused(client, owner, org_a):
    login(client, owner)
    response = push(client, [LINES[1]] * 10_001)
    assert response.status_code == 400 and "At most 10000" in response.json()["lines"][0]


def test_billing_lines_batch(client, owner, org_a, project_a):
    login(client, owner)
    lines = [{"id": "inv-1", "period_start": "2026-11-01", "period_end": "2026-11-30",
              "provider": "openai", "project": "support-bot", "amount_usd": "412.50"}]
    assert push(client, lines, "billing-lines/").json()["added"] == 1
    assert push(client, lines, "billing-lines/").json()["duplicates"] == 1
    line = BillingLine.objects.for_org(org_a).get()
    assert line.project == project_a and str(line.amount_usd) == "412.500000"
    bad = push(client, [{"period_start": "2026-11-30", "period_end": "2026-11-01"}],
               "billing-lines/")
    assert bad.status_code == 400 and set(bad.json()["lines"]["1"]) == {"period_end",
                                                                        "amount_usd"}


def test_file_upload_answers_202_with_the_job_to_poll(client, owner, org_a,
                                                      django_capture_on_commit_callbacks):
    login(client, owner)
    upload = SimpleUploadedFile("spend.csv", example("litellm-spendlogs.csv"))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(BASE + "imports/", {"kind": "usage", "source": "litellm",
                                                   "file": upload})
    assert response.status_code == 202 and response.json()["status"] == "queued"
    assert response["Location"].endswith(f"/usage/imports/{response.json()['id']}/")
    job = client.get(response["Location"]).json()
    assert job["status"] == "succeeded" and job["percent"] == 100
    assert job["report"]["added"] == 2


def test_file_upload_field_errors(client, owner, org_a):
    login(client, owner)
    response = client.post(BASE + "imports/", {"kind": "billing", "source": "litellm",
                                               "file": SimpleUploadedFile("x.csv", b"a")})
    assert response.status_code == 400 and "source" in response.json()
    assert client.post(BASE + "imports/", {"kind": "usage"}).status_code == 400


def test_records_filters_and_query_count(client, owner, org_a, project_a,
                                         django_assert_num_queries):
    login(client, owner)
    run_import(org_a, owner, example("litellm-spendlogs.json"), source="litellm")
    run_import(org_a, owner, example("generic-usage.csv"))
    # session, user, membership+org, project filter, count, page: 6.
    with django_assert_num_queries(6):
        response = client.get(BASE + "records/", {"project": str(project_a.public_id)})
    assert response.json()["count"] == 3
    assert client.get(BASE + "records/", {"source": "litellm"}).json()["count"] == 2
    with django_assert_num_queries(5):
        assert client.get(BASE + "imports/").json()["count"] == 2
