"""Reads for the approval matrix; every queryset is narrowed to one org."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Prefetch, Q, QuerySet

from approvals.models import DenyRule, PolicyRow, SignOff
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


def rows_past_renewal(*, org, today: date, grace_days: int = 0) -> QuerySet[PolicyRow]:
    """Rows the renewal sweep must expire: still in force and past their renewal date
    plus grace_days (the org's ApprovalSettings.expiry_grace_days)."""
    return PolicyRow.objects.for_org(org).filter(
        status__in=EXPIRABLE, renewal_date__lt=today - timedelta(days=grace_days),
    ).order_by("renewal_date")


def rows_renewing_soon(*, org, actor, today: date, days: int = 30) -> QuerySet[PolicyRow]:
    """The dashboard's "due for renewal" list: rows in force that actor owns (app,
    engineering, finance or evidence owner) or requested, whose renewal date is at most
    `days` away or already passed, soonest first (one query)."""
    mine = (Q(app_owner=actor) | Q(engineering_owner=actor) | Q(finance_owner=actor)
            | Q(evidence_owner=actor) | Q(requested_by=actor))
    return (PolicyRow.objects.for_org(org).filter(mine, status__in=EXPIRABLE,
                                                  renewal_date__lte=today + timedelta(days=days))
            .select_related(*_ROW_RELATED).order_by("renewal_date", "pk"))


@dataclass(frozen=True)
class InboxItem:
    row: PolicyRow
    roles: tuple[str, ...]  # the sign-off roles this reviewer may give now
    waiting_since: datetime


def signoff_inbox(*, org, actor) -> list[InboxItem]:
    """What waits for actor's signature, oldest first: rows in review where actor may sign
    a role nobody has signed yet (org scope, app owner or grant; separation of duties
    applied). Three queries whatever the row count: rows with their relations, their live
    signatures, and actor's grants on them."""
    live = Prefetch("signoffs", queryset=SignOff.objects.filter(voided_at__isnull=True),
                    to_attr="live_signoffs")
    rows = list(PolicyRow.objects.for_org(org).filter(status=Status.IN_REVIEW)
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
            items.append(InboxItem(row=row, roles=roles, waiting_since=row.status_changed_at))
    return items


def deny_rule_list(*, org, active: bool | None = True) -> QuerySet[DenyRule]:
    """Org's deny rules (active ones by default), newest first, with scope and owner
    (one query)."""
    qs = DenyRule.objects.for_org(org).select_related("project", "environment", "owner__user")
    if active is not None:
        qs = qs.filter(active=active)
    return qs.order_by("-created_at")
