"""Spend charts (approvals/charts.py): cumulative daily spend against the budget line, the
last three months, from the counters in a fixed number of queries."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from approvals.charts import project_spend_chart, row_spend_chart
from approvals.decisions.spend import spend_add
from approvals.models import PolicyRow

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 12, 10, 15, tzinfo=UTC)


def test_a_rows_chart_accumulates_the_days_of_this_month(org_a, make_row,
                                                         django_assert_num_queries):
    row = make_row(PolicyRow.Status.ACTIVE)
    spend_add(org=org_a, row=row, amount="100", at=datetime(2026, 12, 2, tzinfo=UTC))
    spend_add(org=org_a, row=row, amount="50", at=datetime(2026, 12, 9, tzinfo=UTC))
    spend_add(org=org_a, row=row, amount="700", at=datetime(2026, 10, 9, tzinfo=UTC))
    spend_add(org=org_a, row=row, amount="999", at=datetime(2026, 9, 9, tzinfo=UTC))  # too old
    with django_assert_num_queries(1):
        chart = row_spend_chart(org=org_a, row=row, now=NOW)
    assert chart.month == "2026-12" and chart.spent == Decimal("150")
    assert chart.percent == 30 and not chart.over
    assert len(chart.days) == 10 and chart.days[-1][2] == Decimal("150")
    assert len(chart.points.split()) == 10
    assert [(m["month"], m["spent"]) for m in chart.months] == [
        ("2026-12", Decimal("150")), ("2026-11", Decimal(0)), ("2026-10", Decimal("700"))]
    assert chart.months[2]["percent"] == 140
    # The budget line sits above the line of spend (SVG y grows downwards).
    last_y = float(chart.points.split()[-1].split(",")[1])
    assert chart.budget_y < last_y


def test_a_projects_chart_sums_its_rows_against_their_budgets(org_a, make_row,
                                                              project_a,
                                                              django_assert_num_queries):
    rows = [make_row(PolicyRow.Status.ACTIVE), make_row(PolicyRow.Status.ACTIVE),
            make_row(PolicyRow.Status.DRAFT)]
    for row in rows:
        spend_add(org=org_a, row=row, amount="300", at=datetime(2026, 12, 3, tzinfo=UTC))
    with django_assert_num_queries(2):
        chart = project_spend_chart(org=org_a, project=project_a, now=NOW)
    assert chart.budget == Decimal("1000.00")  # the two rows in force
    assert chart.spent == Decimal("900") and chart.percent == 90
