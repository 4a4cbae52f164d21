"""Exports of the approval matrix: CSV (streamed) and XLSX carry the same columns, every
column of a row, for the rows the page's filters select; user text never runs as a
spreadsheet formula; a bad filter exports nothing; every role exports, outsiders get 404."""

import csv
import io
from datetime import UTC, timedelta
from decimal import Decimal

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone

from approvals.export import HEADER
from approvals.models import PolicyRow, SignOff
from tests.approvals.conftest import Counts, clone_rows, make_entry, sign
from tests.conftest import ROLES, login
from tests.factories import CallerFactory

S = PolicyRow.Status
EVIL = '=HYPERLINK("https://evil.test","click")'


def url(name, org="acme"):
    return reverse(name, args=[org])


def read_csv(response) -> list[dict]:
    assert response.streaming
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def read_xlsx(response):
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    return book["Matrix"]


def xlsx_dicts(sheet) -> list[dict]:
    lines = list(sheet.iter_rows(values_only=True))
    return [dict(zip(lines[0], line, strict=True)) for line in lines[1:]]


@pytest.fixture
def rows(org_a, project_a, owner, people, snapshot, make_row):
    """A signed production row in review and an embeddings row in staging."""
    reviewed = make_row(S.IN_REVIEW)
    sign(org_a, reviewed, people, SignOff.Role.SECURITY)
    embed = make_entry(snapshot, "text-embed", families=("embeddings",))
    batch = make_row(environment=project_a.environments.get(tier="staging"),
                     caller=CallerFactory(project=project_a, owner=owner, name="batch"),
                     models=[embed], allowed_actions=["embeddings"],
                     data_classes=["internal", "customer_pii"], daily_cap=None,
                     renewal_date=timezone.localdate() + timedelta(days=5))
    return {"reviewed": reviewed, "batch": batch}


def test_csv_has_every_column_of_each_row(client, people, rows):
    login(client, people["auditor"])
    response = client.get(url("approvals:matrix_export_csv"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="matrix-acme-')
    lines = read_csv(response)
    assert list(lines[0]) == HEADER
    batch, reviewed = lines  # default order: renewal date
    row = rows["reviewed"]
    assert reviewed == {
        **reviewed, "row_id": str(row.public_id), "project": "Support bot",
        "environment": "production", "environment_tier": "production",
        "caller": "support-api", "credential": "", "approved_models": "openai/gpt-chat",
        "allowed_actions": "chat; chat_stream", "data_classes": "internal",
        "business_reason": "Support reply summarizer", "daily_cap_usd": "40.00",
        "monthly_budget_usd": "500.00", "rate_limit_per_minute": "60",
        "alert_thresholds_percent": "50; 80; 100", "cutoff_behaviour": "block",
        "cutoff_owner": "owner@acme.test", "app_owner": "app-owner@acme.test",
        "engineering_owner": "owner@acme.test", "finance_owner": "finance@acme.test",
        "evidence_owner": "owner@acme.test", "renewal_date": str(row.renewal_date),
        "renewal_triggers": "model_change; spend_spike", "status": "in_review",
        "version": "1", "requested_by": "member@acme.test",
        "signoffs": "security: approve by security@acme.test (v1)",
    }
    assert reviewed["created_at"].startswith(str(row.created_at.date()))
    assert batch["approved_models"] == "openai/text-embed"
    assert batch["data_classes"] == "internal; customer_pii"
    assert batch["daily_cap_usd"] == "" and batch["signoffs"] == ""


def test_xlsx_has_the_same_columns_and_values_as_the_csv(client, people, rows):
    login(client, people["auditor"])
    response = client.get(url("approvals:matrix_export_xlsx"))
    assert response.status_code == 200
    assert response["Content-Type"] == ("application/vnd.openxmlformats-officedocument."
                                        "spreadsheetml.sheet")
    assert response["Content-Disposition"].endswith('.xlsx"')
    sheet = read_xlsx(response)
    from_xlsx = xlsx_dicts(sheet)
    from_csv = read_csv(client.get(url("approvals:matrix_export_csv")))
    assert list(from_xlsx[0]) == HEADER
    for x, c in zip(from_xlsx, from_csv, strict=True):
        for name in ("row_id", "caller", "approved_models", "app_owner", "signoffs", "status",
                     "data_classes", "business_reason"):
            assert (x[name] or "") == c[name], name
    reviewed = from_xlsx[1]
    # Numbers and dates are typed cells, not text.
    assert reviewed["monthly_budget_usd"] == 500 and reviewed["version"] == 1
    assert reviewed["renewal_date"].date() == rows["reviewed"].renewal_date
    # Timestamps in UTC (Excel has no time zones), to the second at least.
    created = rows["reviewed"].created_at.astimezone(UTC).replace(tzinfo=None)
    assert abs(reviewed["created_at"] - created) < timedelta(seconds=1)


def test_exports_apply_the_page_filters(client, people, rows):
    login(client, people["requester"])
    params = {"action": "embeddings", "data_class": "customer_pii"}
    assert [r["caller"] for r in read_csv(client.get(url("approvals:matrix_export_csv"),
                                                     params))] == ["batch"]
    sheet = read_xlsx(client.get(url("approvals:matrix_export_xlsx"), params))
    assert [r["caller"] for r in xlsx_dicts(sheet)] == ["batch"]
    sorted_csv = read_csv(client.get(url("approvals:matrix_export_csv"), {"sort": "-caller"}))
    assert [r["caller"] for r in sorted_csv] == ["support-api", "batch"]


@pytest.mark.parametrize("name", ["approvals:matrix_export_csv", "approvals:matrix_export_xlsx"])
def test_a_bad_filter_exports_nothing(client, people, rows, name):
    login(client, people["requester"])
    response = client.get(url(name), {"action": "teleport", "status": "active"})
    assert response.status_code == 400
    assert b"Bad filter: action" in response.content


def test_exports_never_run_user_text_as_a_formula(client, people, make_row):
    row = make_row(business_reason=EVIL)
    PolicyRow.objects.filter(pk=row.pk).update(allowed_actions=["@SUM(A1)"])
    login(client, people["auditor"])
    (line,) = read_csv(client.get(url("approvals:matrix_export_csv")))
    assert line["business_reason"] == "'" + EVIL
    assert line["allowed_actions"] == "'@SUM(A1)"
    sheet = read_xlsx(client.get(url("approvals:matrix_export_xlsx")))
    column = HEADER.index("business_reason") + 1
    cell = sheet.cell(row=2, column=column)
    # A string cell holding the text as typed, never a formula cell.
    assert cell.data_type == "s" and cell.value == EVIL


@pytest.mark.parametrize("role", ROLES)
def test_every_role_exports_including_auditors(client, personas, rows, role):
    login(client, personas[role])
    assert len(read_csv(client.get(url("approvals:matrix_export_csv")))) == 2
    assert len(xlsx_dicts(read_xlsx(client.get(url("approvals:matrix_export_xlsx"))))) == 2


def test_exports_hold_only_the_orgs_own_rows(client, people, rows, outsider, org_b):
    login(client, outsider)
    assert client.get(url("approvals:matrix_export_csv")).status_code == 404
    assert read_csv(client.get(url("approvals:matrix_export_csv", org="globex"))) == []


@pytest.mark.parametrize("n", [10, 500])
def test_csv_export_query_count_is_constant(client, people, make_row,
                                            django_assert_num_queries, n):
    clone_rows(make_row(), n - 1)
    login(client, people["requester"])
    # 3 to resolve the org (session, user, membership); then per chunk of 500 rows: the
    # rows with their relations, their approved models, their live sign-offs.
    with django_assert_num_queries(6):
        lines = read_csv(client.get(url("approvals:matrix_export_csv")))
    assert len(lines) == n


def test_xlsx_export_of_many_rows_is_readable(client, people, make_row):
    clone_rows(make_row(), 119)
    login(client, people["requester"])
    sheet = read_xlsx(client.get(url("approvals:matrix_export_xlsx")))
    assert sheet.max_row == 121 and sheet.max_column == len(HEADER)
    assert {r["monthly_budget_usd"] for r in xlsx_dicts(sheet)} == {Decimal("500")}


def test_export_writes_no_audit_event_like_the_audit_log_export(client, org_a, people, rows):
    counts = Counts(org_a)
    login(client, people["requester"])
    read_csv(client.get(url("approvals:matrix_export_csv")))
    assert counts.new_audit() == []
