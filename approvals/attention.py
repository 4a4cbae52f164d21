"""What waits for one person, by role, for the org dashboard (issue #8 item 5): sign-offs
in their inbox, rows due for renewal within 30 days, budgets past 80 %, evidence and keys
expiring soon, open findings. Each list names what to act on and links to where to act.

Who sees what: everybody sees their own rows (owner or requester), their inbox and the
keys of callers they own; finance reviewers see every budget, platform (projects:admin)
every row, key and piece of evidence. A fixed number of queries whatever the row count
(the dashboard loads this with htmx, so the orgs app never imports approvals)."""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import F, Q
from django.utils import timezone

from approvals.decisions.engine import period_keys
from approvals.decisions.models import SpendCounter
from approvals.finding_selectors import findings_for_person
from approvals.lint import IN_FORCE
from approvals.models import RowEvidence
from approvals.permissions import PLATFORM_SCOPE
from approvals.selectors import rows_renewing_soon, signoff_inbox
from approvals.workflow import FINISHED
from projects.selectors import key_list

RENEWAL_WINDOW = 30  # days
EXPIRY_WINDOW = 14  # days, for evidence and keys
BUDGET_SHARE = Decimal("0.8")
LIMIT = 10  # items per list on the dashboard; the linked pages show the rest


@dataclass
class Attention:
    inbox: list = field(default_factory=list)
    renewing: list = field(default_factory=list)
    budgets: list = field(default_factory=list)  # SpendCounter with .percent
    evidence: list = field(default_factory=list)  # RowEvidence
    keys: list = field(default_factory=list)
    findings: list = field(default_factory=list)  # unresolved Finding

    @property
    def empty(self) -> bool:
        return not (self.inbox or self.renewing or self.budgets or self.evidence or self.keys
                    or self.findings)


def _mine(actor, prefix=""):
    q = Q(**{f"{prefix}requested_by": actor})
    for name in ("app_owner", "engineering_owner", "finance_owner", "evidence_owner",
                 "cutoff_owner"):
        q |= Q(**{f"{prefix}{name}": actor})
    return q


def _budgets(org, actor, now):
    """This month's counters of rows in force at or past 80 % of their monthly budget."""
    _, month = period_keys(now)
    qs = (SpendCounter.objects.for_org(org)
          .filter(period_key=month, row__status__in=IN_FORCE,
                  amount__gte=F("row__monthly_budget") * BUDGET_SHARE)
          .select_related("row__project", "row__environment", "row__caller")
          .order_by("-amount"))
    if not (actor.has_scope("approvals:sign_finance") or actor.has_scope(PLATFORM_SCOPE)):
        qs = qs.filter(_mine(actor, "row__"))
    counters = list(qs[:LIMIT])
    for c in counters:
        c.percent = int(c.amount * 100 / c.row.monthly_budget) if c.row.monthly_budget else 0
    return counters


def _evidence(org, actor, today: date):
    qs = (RowEvidence.objects.for_org(org)
          .exclude(row__status__in=FINISHED)
          .filter(item__valid_until__gte=today,
                  item__valid_until__lte=today + timedelta(days=EXPIRY_WINDOW))
          .select_related("item", "row__project", "row__environment", "row__caller")
          .order_by("item__valid_until"))
    if not actor.has_scope(PLATFORM_SCOPE):
        qs = qs.filter(_mine(actor, "row__"))
    return list(qs[:LIMIT])


def _keys(org, actor):
    # The keys page's "expiring" filter: live, not rotated away, ending within 14 days.
    qs = (key_list(org=org, status="expiring").select_related(None)
          .select_related("project", "environment", "caller").order_by("expires_at"))
    if not actor.has_scope(PLATFORM_SCOPE):
        qs = qs.filter(Q(caller__owner=actor) | Q(created_by_id=actor.user_id))
    return list(qs[:LIMIT])


def attention_for(*, org, actor, now=None) -> Attention:
    """Everything waiting for actor in org, each list soonest or largest first (at most
    LIMIT items). Nine queries: the inbox (three), renewals, budgets, evidence, keys,
    open findings (their owner's; every one for security and platform)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    return Attention(
        inbox=signoff_inbox(org=org, actor=actor)[:LIMIT],
        renewing=list(rows_renewing_soon(org=org, actor=actor, today=today,
                                         days=RENEWAL_WINDOW)[:LIMIT]),
        budgets=_budgets(org, actor, now),
        evidence=_evidence(org, actor, today),
        keys=_keys(org, actor),
        findings=list(findings_for_person(org=org, actor=actor)[:LIMIT]),
    )
