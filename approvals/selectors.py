"""Reads for the approval matrix; every queryset is narrowed to one org."""

from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery

from approvals.models import DenyRule, PolicyRow, SignOff
from approvals.permissions import grants_of, sign_refusal
from approvals.workflow import Status
from evidence.models import CatalogEntry, CatalogSnapshot
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


def rows_past_renewal(*, org, today: date) -> QuerySet[PolicyRow]:
    """Rows the renewal sweep must expire: still in force and past their renewal date."""
    return PolicyRow.objects.for_org(org).filter(status__in=EXPIRABLE,
                                                 renewal_date__lt=today).order_by("renewal_date")


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


# Rows that are still requests: not yet in force, or sent back to the requester.
REQUEST_STATES = tuple(s for s in Status if s not in (
    Status.ACTIVE, Status.RENEWAL_DUE, Status.SUSPENDED, Status.REVOKED, Status.EXPIRED))
# Everything the API shows of a row, joined or prefetched so that a list costs the same
# few queries at any size.
_ROW_ALL_RELATED = (*_ROW_RELATED, "api_key", "workload_identity", "engineering_owner",
                    "finance_owner", "evidence_owner", "cutoff_owner", "fallback_row")


def request_list(*, org, actor=None) -> QuerySet[PolicyRow]:
    """Org's requests (rows not yet in force, or sent back), most recently moved first;
    with actor, only the ones actor requested or is app owner of (one query)."""
    qs = PolicyRow.objects.for_org(org).filter(status__in=REQUEST_STATES)
    if actor is not None:
        qs = qs.filter(Q(requested_by=actor) | Q(app_owner=actor))
    return qs.select_related(*_ROW_RELATED).order_by("-status_changed_at", "-pk")


def row_list_detailed(*, org, **filters) -> QuerySet[PolicyRow]:
    """row_list with every relation the API shows: three queries at any size (rows with
    their foreign keys, approved models with their snapshots, signatures)."""
    return row_list(org=org, **filters).select_related(*_ROW_ALL_RELATED).prefetch_related(
        Prefetch("approved_models", queryset=CatalogEntry.objects.select_related("snapshot")),
        "signoffs")


def row_get_detailed(*, org, public_id) -> PolicyRow:
    """One row of org with everything the API shows (404 when missing or foreign)."""
    return get_for_org_or_404(row_list_detailed(org=org), org, public_id=public_id)


def catalog_current_entries(*, org, q: str = "") -> QuerySet[CatalogEntry]:
    """Entries of the newest snapshot of each of org's catalog sources, by catalog date
    then import time (one query): the models a request may choose from. The same
    "current" as the screen step (services/screening.py current_snapshots). q searches
    model id and key, or names a platform."""
    newest = (CatalogSnapshot.objects.for_org(org).filter(source_name=OuterRef("source_name"))
              .order_by("-snapshot_date", "-imported_at").values("pk")[:1])
    current = CatalogSnapshot.objects.for_org(org).filter(pk=Subquery(newest))
    qs = CatalogEntry.objects.for_org(org).filter(snapshot__in=current)
    if q:
        qs = qs.filter(Q(model_id__icontains=q) | Q(key__icontains=q) | Q(platform__iexact=q))
    return (qs.select_related("snapshot").order_by("platform", "model_id", "region", "key"))
