"""Spend against budget over time, drawn on the server as inline SVG (no JavaScript, no
CDN): this month's cumulative daily spend against the monthly budget line, and the last
three months' totals. Built from the spend counters (approvals.decisions.models), so a
chart costs one query for a row, two for a project, whatever the number of days or rows.
"""

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from approvals.decisions.engine import period_keys
from approvals.decisions.models import SpendCounter
from approvals.lint import IN_FORCE
from approvals.models import PolicyRow

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 28  # room for the axis labels
MONTHS = 3


@dataclass
class SpendChart:
    """What the template draws. Coordinates are in the SVG's own units (WIDTH x HEIGHT)."""

    month: str
    budget: Decimal
    spent: Decimal
    days: list = field(default_factory=list)  # [(date, spent that day, cumulative)]
    points: str = ""  # the cumulative line, "x,y x,y ..."
    budget_y: float = 0.0
    y_ticks: list = field(default_factory=list)  # [(y, label)]
    x_ticks: list = field(default_factory=list)  # [(x, label)]
    months: list = field(default_factory=list)  # [{"month", "spent", "budget", "percent"}]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    plot_bottom: int = HEIGHT - BOTTOM
    top: int = TOP

    @property
    def percent(self) -> int | None:
        return int(self.spent * 100 / self.budget) if self.budget else None

    @property
    def over(self) -> bool:
        return bool(self.budget) and self.spent >= self.budget


def _month_keys(today: date, n: int) -> list[str]:
    keys, year, month = [], today.year, today.month
    for _ in range(n):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return keys


def _draw(month: str, today: date, budget: Decimal, amounts: dict) -> SpendChart:
    """amounts: {period_key: Decimal} holding this month's day keys and recent month keys."""
    year, mon = int(month[:4]), int(month[5:7])
    n_days = calendar.monthrange(year, mon)[1]
    last = today.day if (today.year, today.month) == (year, mon) else n_days
    days, total = [], Decimal(0)
    for d in range(1, last + 1):
        day = date(year, mon, d)
        spent = amounts.get(day.isoformat(), Decimal(0))
        total += spent
        days.append((day, spent, total))
    spent_month = amounts.get(month, total)
    chart = SpendChart(month=month, budget=budget, spent=spent_month, days=days)
    top_value = max(budget, total, Decimal(1)) * Decimal("1.1")
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(d: int) -> float:
        return round(LEFT + (d - 1) * plot_w / max(n_days - 1, 1), 1)

    def y(v: Decimal) -> float:
        return round(TOP + plot_h - float(v / top_value) * plot_h, 1)

    chart.points = " ".join(f"{x(day.day)},{y(cum)}" for day, _, cum in days)
    chart.budget_y = y(budget)
    chart.y_ticks = [(y(v), f"{v:,.0f}") for v in (Decimal(0), budget / 2, budget)] \
        if budget else [(y(Decimal(0)), "0")]
    chart.x_ticks = [(x(d), str(d)) for d in sorted({1, 8, 15, 22, n_days})]
    for key in _month_keys(today, MONTHS):
        spent = amounts.get(key, Decimal(0))
        chart.months.append({"month": key, "spent": spent, "budget": budget,
                             "percent": int(spent * 100 / budget) if budget else None})
    return chart


def _keys(now: datetime):
    today = now.date() if isinstance(now, datetime) else now
    _, month = period_keys(now)
    oldest = _month_keys(today, MONTHS)[-1]
    return today, month, oldest


def row_spend_chart(*, org, row: PolicyRow, now: datetime | None = None) -> SpendChart:
    """One row's chart (one query: its counters since the oldest month shown)."""
    today, month, oldest = _keys(now or timezone.now())
    amounts = dict(SpendCounter.objects.for_org(org).filter(row=row, period_key__gte=oldest)
                   .values_list("period_key", "amount"))
    return _draw(month, today, row.monthly_budget or Decimal(0), amounts)


def project_spend_chart(*, org, project, now: datetime | None = None) -> SpendChart:
    """A project's chart: the spend of all its rows against the budgets of its rows in force
    (two queries). Past months are drawn against today's budget."""
    today, month, oldest = _keys(now or timezone.now())
    amounts = dict(SpendCounter.objects.for_org(org)
                   .filter(row__project=project, period_key__gte=oldest)
                   .values_list("period_key").annotate(total=Sum("amount"))
                   .values_list("period_key", "total"))
    budget = (PolicyRow.objects.for_org(org).filter(project=project, status__in=IN_FORCE)
              .aggregate(b=Sum("monthly_budget"))["b"]) or Decimal(0)
    return _draw(month, today, budget, amounts)
