"""Reads for the approval matrix; every queryset is narrowed to one org."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from approvals.decisions.engine import period_keys
from approvals.decisions.models import SpendCounter
from approvals.models import (
    ApprovalSettings,
    DenyRule,
    PolicyRow,
    RenewalReview,
    RowEvidence,
    SignOff,
)
from approvals.permissions import grants_of, sign_refusal
from approvals.workflow import Status
from orgs.scoping import get_for_org_or_404

_ROW_RELATED = ("project", "environment", "caller", "requested_by__user", "app_owner__user")
# Rows that the renewal sweep may expire: they still count as approved somewhere.
EXPIRABLE = (Status.ACTIVE, Status.RENEWAL_DUE, Status.SUSPENDED)


def row_list(*, org, status: str | None = None, project=None, environment=None,
             caller=None) -> QuerySet[PolicyRow]:
    """Org's rows, newest first, with project, environment, caller and the requester and
    app owner (one query)."""
    qs = PolicyRow.objects.for_org(org).select_related(*_ROW_RELATED)
    if status:
        qs = qs.filter(status=status)
    for name, value in (("project", project), ("environment", environment),
                        ("caller", caller)):
        if value is not None:
            qs = qs.filter(**{name: value})
    return qs.order_by("-created_at")


def row_get(*, org, public_id) -> PolicyRow:
    """One row of org (404 when missing or foreign), with its models and signatures."""
    qs = PolicyRow.objects.select_related(*_ROW_RELATED).prefetch_related(
        "approved_models", "signoffs")
    return get_for_org_or_404(qs, org, public_id=public_id)


def approval_settings_get(*, org) -> ApprovalSettings:
    """Org's approval settings: the saved row, or an unsaved one with the product defaults
    (an org that never opened the settings page has none). One query."""
    return (ApprovalSettings.objects.for_org(org).first()
            or ApprovalSettings(org=org))


def expiry_cutoff(*, org, today: date) -> date:
    """Rows whose renewal date is before this day expire: today less the org's grace days
    (the renewal date itself is the last day a row holds without grace)."""
    return today - timedelta(days=approval_settings_get(org=org).expiry_grace_days)


def rows_past_renewal(*, org, today: date) -> QuerySet[PolicyRow]:
    """Rows the renewal sweep must expire: still in force and past their renewal date plus
    the org's expiry grace days (approval settings). A row whose proposed renewal still
    waits for its sign-offs holds only until its previous date (review.renews_from)."""
    cutoff = expiry_cutoff(org=org, today=today)
    unsigned = RenewalReview.objects.filter(
        row=OuterRef("pk"), decided_at__isnull=True, outcome=RenewalReview.Outcome.RENEW,
        renews_from__lt=cutoff)
    return PolicyRow.objects.for_org(org).filter(status__in=EXPIRABLE).filter(
        Q(renewal_date__lt=cutoff) | Q(Exists(unsigned))).order_by("renewal_date")


def row_holds_until(*, org, row) -> date | None:
    """The last day a row holds without renewal: its renewal date, or, while a proposed
    renewal waits for its sign-offs, the date it had before (one query)."""
    review = renewal_review_open(org=org, row=row)
    if review is not None and review.outcome == RenewalReview.Outcome.RENEW \
            and review.renews_from is not None:
        return review.renews_from
    return row.renewal_date


def renewal_review_open(*, org, row) -> RenewalReview | None:
    """The open renewal review of one row of org (answering, or renew decided and waiting
    for the three signatures), or None. One query."""
    return (RenewalReview.objects.for_org(org).filter(row=row, decided_at__isnull=True)
            .select_related("created_by__user", "decided_by__user").first())


def renewal_review_list(*, org, row) -> QuerySet[RenewalReview]:
    """Every renewal review of one row of org, newest first, with who opened and decided
    it (one query)."""
    return (RenewalReview.objects.for_org(org).filter(row=row)
            .select_related("created_by__user", "decided_by__user").order_by("-created_at"))


@dataclass(frozen=True)
class InboxItem:
    row: PolicyRow
    roles: tuple[str, ...]  # the sign-off roles this reviewer may give now
    waiting_since: datetime


# A renewal decided "renew" waits for the three signatures of the row's new version.
AWAITING_RENEWAL = Q(status=Status.RENEWAL_DUE,
                     renewal_reviews__outcome=RenewalReview.Outcome.RENEW,
                     renewal_reviews__decided_at__isnull=True)


def signoff_inbox(*, org, actor) -> list[InboxItem]:
    """What waits for actor's signature, oldest first: rows in review, and rows due for
    renewal whose review proposed a renewal, where actor may sign a role nobody has signed
    yet (org scope, app owner or grant; separation of duties applied). A renewal waits
    since its new version (updated_at). Three queries whatever the row count: rows with
    their relations (one open review per row, so the join never repeats a row), their
    live signatures, and actor's grants on them."""
    live = Prefetch("signoffs", queryset=SignOff.objects.filter(voided_at__isnull=True),
                    to_attr="live_signoffs")
    rows = list(PolicyRow.objects.for_org(org)
                .filter(Q(status=Status.IN_REVIEW) | AWAITING_RENEWAL)
                .select_related(*_ROW_RELATED).prefetch_related(live)
                .order_by("status_changed_at", "pk"))
    grants = grants_of(actor, rows) if rows else set()
    items = []
    for row in rows:
        taken = {s.role for s in row.live_signoffs}
        roles = tuple(role for role in SignOff.Role.values if role not in taken
                      and sign_refusal(actor, row, role, live_signoffs=row.live_signoffs,
                                       grants=grants) is None)
        if roles:
            since = (row.updated_at if row.status == Status.RENEWAL_DUE
                     else row.status_changed_at)
            items.append(InboxItem(row=row, roles=roles, waiting_since=since))
    return sorted(items, key=lambda item: item.waiting_since)


def deny_rule_list(*, org, active: bool | None = True) -> QuerySet[DenyRule]:
    """Org's deny rules (active ones by default), newest first, with scope and owner
    (one query)."""
    qs = DenyRule.objects.for_org(org).select_related("project", "environment", "owner__user")
    if active is not None:
        qs = qs.filter(active=active)
    return qs.order_by("-created_at")


def row_evidence_items(*, org, row) -> list:
    """The evidence items attached to one row of org, oldest link first (one query); the
    renewal review cites them."""
    return [link.item for link in RowEvidence.objects.for_org(org).filter(row=row)
            .select_related("item").order_by("attached_at", "pk")]


@dataclass(frozen=True)
class RowUsage:
    month_spent: Decimal
    monthly_budget: Decimal
    day_spent: Decimal
    daily_cap: Decimal | None

    @property
    def month_percent(self) -> int | None:
        if not self.monthly_budget:
            return None
        return int(self.month_spent * 100 / self.monthly_budget)


def row_usage(*, org, row, now: datetime | None = None) -> RowUsage:
    """What one row of org spent this UTC day and month (its spend counters) against its
    daily cap and monthly budget. One query."""
    day, month = period_keys(now or timezone.now())
    spent = dict(SpendCounter.objects.for_org(org).filter(row=row, period_key__in=(day, month))
                 .values_list("period_key", "amount"))
    return RowUsage(month_spent=spent.get(month, Decimal(0)), monthly_budget=row.monthly_budget,
                    day_spent=spent.get(day, Decimal(0)), daily_cap=row.daily_cap)
