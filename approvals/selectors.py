"""Reads for the approval matrix; every queryset is narrowed to one org."""

import functools
import operator
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from approvals.checklist import evidence_rules_subquery
from approvals.decisions.engine import period_keys
from approvals.decisions.models import SpendCounter
from approvals.lint import ERROR, RULES, Finding, Rule, lint_org, load_snapshot, run
from approvals.models import (
    ApprovalSettings,
    DenyRule,
    PolicyRow,
    RenewalReview,
    RowEvidence,
    SignOff,
)
from approvals.permissions import grants_of, sign_refusal
from approvals.workflow import FINISHED, Status
from evidence.models import CatalogEntry, CatalogSnapshot
from orgs.audit import AuditEvent
from orgs.roles import PARTICIPATE
from orgs.scoping import get_for_org_or_404
from orgs.selectors import membership_list_with_scope

_ROW_RELATED = ("project", "environment", "caller", "requested_by__user", "app_owner__user")
# Rows that the renewal sweep may expire: they still count as approved somewhere.
EXPIRABLE = (Status.ACTIVE, Status.RENEWAL_DUE, Status.SUSPENDED)


def participant_list(*, org) -> QuerySet:
    """The members who may own a row, be named its reviewer or own a finding: everyone
    but auditors (permissions.PARTICIPATE). For pickers; the services check the same."""
    return membership_list_with_scope(org=org, scope=PARTICIPATE)


def reviewer_candidates(*, org, row: PolicyRow, role: str) -> QuerySet:
    """Who may be named reviewer for `role` on row (permissions.grantee_refusal as a
    query): participants, minus the requester for security and finance. One query."""
    qs = participant_list(org=org)
    if role != SignOff.Role.APP_OWNER:
        qs = qs.exclude(pk=row.requested_by_id)
    return qs


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
    """One row of org (404 when missing or foreign), with its models and signatures, and
    the org's evidence rules (for its checklist, no query of their own)."""
    qs = PolicyRow.objects.select_related(*_ROW_RELATED).prefetch_related(
        "approved_models", "signoffs").annotate(
        org_evidence_rules=evidence_rules_subquery(org))
    return get_for_org_or_404(qs, org, public_id=public_id)


def approval_settings_get(*, org) -> ApprovalSettings:
    """Org's approval settings: the saved row, or an unsaved one with the product defaults
    (an org that never opened the settings page has none). One query."""
    return (ApprovalSettings.objects.for_org(org).first()
            or ApprovalSettings(org=org))


def expiry_cutoff(*, org, today: date, grace_days: int | None = None) -> date:
    """Rows whose renewal date is before this day expire: today less the org's grace days
    (the renewal date itself is the last day a row holds without grace). `grace_days`
    overrides the org's setting (the renewal scan has read it already)."""
    if grace_days is None:
        grace_days = approval_settings_get(org=org).expiry_grace_days
    return today - timedelta(days=grace_days)


def rows_past_renewal(*, org, today: date, grace_days: int | None = None
                      ) -> QuerySet[PolicyRow]:
    """Rows the renewal sweep must expire: still in force and past their renewal date plus
    the org's expiry grace days (approval settings, or `grace_days`). A row whose proposed
    renewal still waits for its sign-offs holds only until its previous date
    (review.renews_from)."""
    cutoff = expiry_cutoff(org=org, today=today, grace_days=grace_days)
    unsigned = RenewalReview.objects.awaiting_signatures().filter(
        row=OuterRef("pk"), renews_from__lt=cutoff)
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


# --- One row's page (views/rows.py) --------------------------------------------------------

_PAGE_RELATED = (*_ROW_RELATED, "api_key", "workload_identity", "fallback_row__caller",
                 "fallback_row__environment", "engineering_owner__user",
                 "finance_owner__user", "evidence_owner__user", "cutoff_owner__user")
# The timeline shows the newest events of a row; older ones stay in the audit log.
TIMELINE_LIMIT = 200


def row_page_get(*, org, public_id) -> PolicyRow:
    """One row of org (404 when missing or foreign) with everything its page shows, in
    three queries: the row with its credential, fallback and owners; its models with their
    catalog snapshot; all its signatures (live and voided), oldest first."""
    qs = PolicyRow.objects.select_related(*_PAGE_RELATED).prefetch_related(
        Prefetch("approved_models", queryset=CatalogEntry.objects.select_related("snapshot")
                 .order_by("platform", "model_id")),
        Prefetch("signoffs", queryset=SignOff.objects.order_by("signed_at", "pk")))
    return get_for_org_or_404(qs, org, public_id=public_id)


def row_spend(*, org, row: PolicyRow, now: datetime | None = None) -> dict:
    """Today's and this month's spend of row (UTC, USD) from its spend counters, against
    its daily cap and monthly budget (one query)."""
    day, month = period_keys(now or timezone.now())
    amounts = dict(SpendCounter.objects.for_org(org).filter(
        row=row, period_key__in=(day, month)).values_list("period_key", "amount"))
    spent_day, spent_month = amounts.get(day, Decimal(0)), amounts.get(month, Decimal(0))
    budget = row.monthly_budget or Decimal(0)
    return {"day": spent_day, "month": spent_month, "month_key": month,
            "month_percent": int(spent_month * 100 / budget) if budget else None,
            "day_percent": int(spent_day * 100 / row.daily_cap) if row.daily_cap else None}


# Audit actions of a row in the page's words; anything else shows its action name.
EVENT_TITLES = {
    "approval.created": "Requested", "approval.updated": "Edited",
    "approval.submitted": "Submitted for review", "approval.screened": "Screened",
    "approval.testing_started": "Testing started", "approval.evidence_started":
    "Evidence collection started", "approval.sent_to_review": "Sent to review",
    "approval.signed": "Signed", "approval.changes_requested": "Changes requested",
    "approval.rejected": "Rejected", "approval.renewal_due": "Renewal due",
    "approval.renewed": "Renewed", "approval.suspended": "Suspended",
    "approval.resumed": "Resumed", "approval.revoked": "Revoked",
    "approval.expired": "Expired", "approval.reviewer_granted": "Reviewer named",
    "approval.smoke_run_started": "Smoke tests started",
    "approval.smoke_tested": "Smoke test recorded",
    "approval.smoke_run_finished": "Smoke tests finished",
    "approval.audit_extract_collected": "Audit extract collected",
}


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # "event", "signoff" or "evidence"
    title: str
    actor: str
    detail: str = ""
    voided: str = ""  # a voided signature's reason


def _event_detail(changes: dict) -> str:
    parts = []
    if status := changes.get("status"):
        labels = [Status(s).label if s in Status.values else (s or "") for s in status]
        parts.append(" → ".join(labels))
    for name in ("comment", "reason"):
        if value := (changes.get(name) or [None, None])[1]:
            parts.append(f"{name.capitalize()}: {value}")
    if reviewer := changes.get("reviewer"):
        role = (changes.get("role") or [None, ""])[1].replace("_", " ")
        parts.append(f"{reviewer[1]} signs as {role}")
    if version := changes.get("version"):
        parts.append(f"Version {version[0]} → {version[1]}")
    if voided := (changes.get("voided_signoffs") or [None, None])[1]:
        parts.append(f"{voided} sign-off{'s' if voided != 1 else ''} voided")
    return " · ".join(parts)


def _event_entry(e: AuditEvent) -> TimelineEntry | None:
    if e.action == "approval.signed":
        if "status" not in e.changes:
            return None  # the signature's own entry (below) says it all
        # The signature that decided the row: name the move it made.
        title = "Activated" if e.changes["status"][1] == Status.ACTIVE else "Rejected"
        return TimelineEntry(at=e.created_at, kind="event", title=f"{title} by the sign-offs",
                             actor=e.actor_label or "system",
                             detail=_event_detail({"status": e.changes["status"]}))
    return TimelineEntry(at=e.created_at, kind="event",
                         title=EVENT_TITLES.get(e.action, e.action),
                         actor=e.actor_label or "system", detail=_event_detail(e.changes))


def _signoff_entry(s: SignOff) -> TimelineEntry:
    title = f"{s.get_role_display()} {'approved' if s.decision == 'approve' else 'rejected'}" \
            f" version {s.row_version}"
    return TimelineEntry(at=s.signed_at, kind="signoff", title=title, actor=s.signer_label,
                         detail=s.comment, voided=s.void_reason if s.voided_at else "")


def row_timeline(*, org, row: PolicyRow) -> list[TimelineEntry]:
    """What happened to row, newest first: its audit events (the newest TIMELINE_LIMIT),
    its signatures (live and voided; a signature's audit event shows only when it moved
    the row) and its evidence attachments. Two queries whatever
    their number (events; evidence links with their items); the signatures come from the
    row's prefetch (row_page_get)."""
    events = (AuditEvent.objects.for_org(org)
              .filter(object_type=PolicyRow._meta.model_name, object_id=str(row.public_id))
              .order_by("-seq")[:TIMELINE_LIMIT])
    entries = [entry for e in events if (entry := _event_entry(e))]
    entries += [_signoff_entry(s) for s in row.signoffs.all()]
    links = RowEvidence.objects.for_org(org).filter(row=row).select_related(
        "item", "attached_by__user")
    entries += [TimelineEntry(
        at=link.attached_at, kind="evidence", title=f"Evidence attached: {link.item.title}",
        actor=link.attached_by.user.email if link.attached_by else "system",
        detail=link.item.get_kind_display()) for link in links]
    return sorted(entries, key=lambda e: e.at, reverse=True)


# --- The matrix page, its exports and the lint report (issue #6 items 7, 8) -------------

_OWNER_FIELDS = ("app_owner", "engineering_owner", "finance_owner", "evidence_owner",
                 "cutoff_owner")
# The matrix's sort keys (the ?sort= values) and the columns they order by; anything else
# falls back to the default, so a crafted ?sort= never reaches order_by().
MATRIX_SORTS = {
    "renewal": "renewal_date", "project": "project__name", "environment": "environment__name",
    "caller": "caller__name", "status": "status", "version": "version",
    "budget": "monthly_budget", "daily_cap": "daily_cap", "created": "created_at",
    "updated": "updated_at",
}
MATRIX_DEFAULT_SORT = "renewal"


def _json_list_has(field: str, value: str) -> Q:
    """Rows whose JSON list `field` holds `value`. `__contains` on a JSONField is not
    supported on SQLite (the zero-setup first run), so this matches the quoted value in
    the JSON text instead: '"chat"' never matches "chat_stream". Portable because the
    values are our own lowercase identifiers without quotes or backslashes."""
    return Q(**{f"{field}__icontains": f'"{value}"'})


def _model_filter(text: str) -> Q:
    """Rows approving a catalog model whose platform or model id contains text;
    "platform/model" narrows both (model ids may hold a slash themselves, e.g.
    openrouter's meta-llama/..., so the whole text also matches the model id). An
    EXISTS, so rows are never duplicated."""
    entry = Q(catalogentry__platform__icontains=text) | Q(catalogentry__model_id__icontains=text)
    platform, _, model = text.partition("/")
    if model:
        entry |= Q(catalogentry__platform__icontains=platform.strip(),
                   catalogentry__model_id__icontains=model.strip())
    entries = PolicyRow.approved_models.through.objects.filter(entry, policyrow_id=OuterRef("pk"))
    return Q(Exists(entries))


def _matrix_filters(filters: dict, today: date) -> Q:
    q = Q()
    for name in ("project", "caller"):
        if filters.get(name):
            q &= Q(**{name: filters[name]})
    if env := (filters.get("environment") or "").strip():
        q &= Q(environment__name__iexact=env) | Q(environment__tier__iexact=env)
    if text := (filters.get("model") or "").strip():
        q &= _model_filter(text)
    if filters.get("action"):
        q &= _json_list_has("allowed_actions", filters["action"])
    if filters.get("data_class"):
        q &= _json_list_has("data_classes", filters["data_class"])
    if filters.get("status"):
        q &= Q(status__in=list(filters["status"]))
    if owner := filters.get("owner"):
        q &= functools.reduce(operator.or_, (Q(**{f: owner}) for f in _OWNER_FIELDS))
    if filters.get("renewal_within") is not None:
        # Overdue rows are included, they are the most urgent of all; revoked and expired
        # rows never renew, so their old dates are left out.
        q &= (Q(renewal_date__lte=today + timedelta(days=filters["renewal_within"]))
              & ~Q(status__in=FINISHED))
    return q


def matrix_order(sort: str | None) -> tuple[str, list]:
    """The whitelisted sort key ("-" prefix: descending) and its order_by() terms. Rows
    without a renewal date (or daily cap) sort last either way; ties go by renewal date,
    then primary key, so pages never overlap."""
    key = (sort or "").removeprefix("-")
    if key not in MATRIX_SORTS:
        sort, key = MATRIX_DEFAULT_SORT, MATRIX_DEFAULT_SORT
    column = F(MATRIX_SORTS[key])
    term = column.desc(nulls_last=True) if sort.startswith("-") else column.asc(nulls_last=True)
    return sort, [term, F("renewal_date").asc(nulls_last=True), "pk"]


def matrix_list(*, org, filters: dict | None = None, today: date | None = None
                ) -> QuerySet[PolicyRow]:
    """Org's policy rows for the matrix page and its exports, filtered and sorted.

    filters (all optional): project, caller (objects of org), environment (a name or a
    tier), model (text on platform / model id), action, data_class, status (a list),
    owner (a Membership in any owner role), renewal_within (days from today, overdue
    included, revoked and expired rows left out), sort (a
    key of MATRIX_SORTS, "-" for descending; default renewal date). Read-only, for anyone
    who reads the matrix. Three queries whatever the row count: the rows with project,
    environment, caller, credential, fallback, requester and owners (one join), their
    approved models, their live signatures."""
    filters = filters or {}
    today = today or timezone.localdate()
    live = Prefetch("signoffs", queryset=SignOff.objects.filter(voided_at__isnull=True)
                    .order_by("role"), to_attr="live_signoffs")
    _, order = matrix_order(filters.get("sort"))
    return (PolicyRow.objects.for_org(org).filter(_matrix_filters(filters, today))
            .select_related("project", "environment", "caller", "api_key",
                            "workload_identity", "fallback_row", "requested_by__user",
                            *(f"{name}__user" for name in _OWNER_FIELDS))
            .prefetch_related(Prefetch("approved_models", queryset=CatalogEntry.objects
                                       .order_by("platform", "model_id")), live)
            .order_by(*order))


def deny_rule_get(*, org, public_id) -> DenyRule:
    """One deny rule of org (404 when missing or foreign)."""
    return get_for_org_or_404(DenyRule, org, public_id=public_id)


def lint_counts(*, org) -> dict[str, int]:
    """{row public id: number of lint findings} over org's unfinished rows, for the
    matrix's lint column (approvals.lint.lint_org: a fixed number of queries)."""
    return dict(Counter(f.row for f in lint_org(org=org)))


@dataclass(frozen=True)
class LintGroup:
    rule: Rule
    findings: list[tuple[Finding, PolicyRow, str]]  # (finding, its row, html anchor)


@dataclass(frozen=True)
class LintReport:
    groups: list[LintGroup]  # every registered rule, in registry order, findings or not
    rows_checked: int
    rows_with_findings: int
    errors: int
    warnings: int


def lint_report(*, org, today: date | None = None) -> LintReport:
    """The policy linter's findings on org's unfinished rows, grouped by rule, each with
    its row; the same findings as approvals.lint.lint_org (and the lint API), for anyone
    who reads the matrix. load_snapshot's queries, whatever the row count."""
    snap = load_snapshot(org=org, today=today)
    findings = run(snap)
    rows = {str(r.public_id): r for r in snap.rows}
    by_rule, seen = defaultdict(list), set()
    for finding in findings:
        # The first finding of each row carries its anchor, the matrix's lint link target.
        anchor = "" if finding.row in seen else f"row-{finding.row}"
        seen.add(finding.row)
        by_rule[finding.rule].append((finding, rows[finding.row], anchor))
    errors = sum(f.severity == ERROR for f in findings)
    return LintReport(groups=[LintGroup(rule=r, findings=by_rule.get(name, []))
                              for name, r in RULES.items()],
                      rows_checked=len(snap.rows),
                      rows_with_findings=len({f.row for f in findings}), errors=errors,
                      warnings=len(findings) - errors)


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

