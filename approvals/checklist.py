"""The evidence checklist of a row: the seed's controls, the artifact that closes each,
and what is missing, rejected or expired.

REQUIREMENTS is the one table of evidence controls, with the seed's defaults: production
rows need a catalog row, a passed route smoke test per allowed action, a usage row, a
billing row and a rollback test; rows that take any non-public data class add DPA or
contract scope, retention, logging scope and a redaction rule. Other tiers require nothing
by default. Org admins change which kinds are required per tier and per data class
(EvidenceRules, stored as ApprovalSettings.evidence_rules; the page is
approvals/views/evidence_rules.py); no saved rules means DEFAULT_RULES. Everything else
reads the table through required_controls() with the org's rules.

The gate (approvals/gates.py) blocks on missing, rejected and expired lines; a pending
line counts as present (the three sign-offs are the human review of the pack) but the page
shows it. The row page includes templates/approvals/_row_evidence.html with
row_evidence_context().
"""

from dataclasses import dataclass, field
from datetime import date

from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone

from approvals.evidence_forms import EvidenceAttachForm
from approvals.models import Action, ApprovalSettings, DataClass, PolicyRow, RowEvidence
from approvals.permissions import can_attach_evidence
from evidence.models import EvidenceItem
from evidence.permissions import can_review_evidence
from orgs.scoping import get_for_org_or_404

K = EvidenceItem.Kind
PRODUCTION = "production"


@dataclass(frozen=True)
class Requirement:
    kind: str
    label: str
    why: str
    # The seed's defaults (DEFAULT_RULES); an org's own rules replace them.
    tiers: frozenset = frozenset({PRODUCTION})
    non_public_only: bool = False  # only when the row takes a data class other than public
    per_action: bool = False  # one item per allowed action (smoke tests)


# The seed's defaults, in its words ("Build The Policy Around Evidence, Not Promises").
REQUIREMENTS = (
    Requirement(K.CATALOG_ROW, "Catalog row", "A current catalog check of the selected model "
                "ids: the model is listed and available (listing is not authorization)."),
    Requirement(K.SMOKE_TEST, "Route smoke test", "A synthetic-data smoke test of the allowed "
                "action through the gateway route, before production traffic moves.",
                per_action=True),
    Requirement(K.USAGE_ROW, "Usage row", "Usage appears under the expected key, model, "
                "endpoint and team."),
    Requirement(K.BILLING_ROW, "Billing row", "Spend lands with the expected billing owner "
                "before quotas grow."),
    Requirement(K.ROLLBACK_TEST, "Rollback test", "The rollback result: a production route "
                "has a tested way back."),
    Requirement(K.DPA_SCOPE, "DPA or contractual scope", "The provider's contract covers the "
                "data classes this row sends.", non_public_only=True),
    Requirement(K.RETENTION, "Retention setting", "How long the provider and the gateway keep "
                "prompts and outputs.", non_public_only=True),
    Requirement(K.LOGGING_SCOPE, "Logging scope", "What is logged, where, and who can read "
                "it.", non_public_only=True),
    Requirement(K.REDACTION_RULE, "Redaction rule", "What is removed before data enters the "
                "route.", non_public_only=True),
    # Not required by default; an org may require them (the evidence rules page).
    Requirement(K.AUDIT_EXTRACT, "Audit log extract", "The audit trail of the row's approval "
                "and changes.", tiers=frozenset()),
    Requirement(K.SECURITY_REVIEW, "Security review note", "Security's written review of the "
                "route and its data.", tiers=frozenset()),
    Requirement(K.QUOTA_EXPORT, "Quota export", "The gateway's configured quota for the key "
                "matches the row's budget.", tiers=frozenset()),
)
KIND_ORDER = tuple(req.kind for req in REQUIREMENTS)
TIERS = ("development", "staging", PRODUCTION)  # projects.models.Environment.Tier


@dataclass(frozen=True)
class EvidenceRules:
    """Which evidence kinds a row must carry: the kinds of its environment tier, plus, in
    the tiers listed in data_class_tiers, the kinds of each data class the row takes."""
    tiers: dict  # tier -> frozenset of kinds
    data_classes: dict  # data class -> frozenset of kinds
    data_class_tiers: frozenset

    def required_kinds(self, tier: str, data_classes) -> set:
        kinds = set(self.tiers.get(tier, ()))
        if tier in self.data_class_tiers:
            for dc in data_classes:
                kinds |= self.data_classes.get(dc, frozenset())
        return kinds

    def as_json(self) -> dict:
        """The stored form (ApprovalSettings.evidence_rules): lists in table order."""
        def ordered(kinds):
            return [k for k in KIND_ORDER if k in kinds]
        return {"tiers": {t: ordered(self.tiers.get(t, ())) for t in TIERS},
                "data_classes": {dc: ordered(self.data_classes.get(dc, ()))
                                 for dc in DataClass.values},
                "data_class_tiers": [t for t in TIERS if t in self.data_class_tiers]}

    @classmethod
    def from_json(cls, raw) -> "EvidenceRules":
        """The rules stored as JSON; None (nothing saved) is DEFAULT_RULES."""
        if not raw:
            return DEFAULT_RULES
        return cls(tiers={t: frozenset(k) for t, k in (raw.get("tiers") or {}).items()},
                   data_classes={dc: frozenset(k) for dc, k in
                                 (raw.get("data_classes") or {}).items()},
                   data_class_tiers=frozenset(raw.get("data_class_tiers") or ()))


def _default_rules() -> EvidenceRules:
    boundary = frozenset(r.kind for r in REQUIREMENTS if r.non_public_only)
    return EvidenceRules(
        tiers={t: frozenset(r.kind for r in REQUIREMENTS
                            if t in r.tiers and not r.non_public_only) for t in TIERS},
        data_classes={dc: boundary for dc in DataClass.values if dc != DataClass.PUBLIC},
        data_class_tiers=frozenset().union(*(r.tiers for r in REQUIREMENTS
                                             if r.non_public_only)))


DEFAULT_RULES = _default_rules()


def evidence_rules_get(*, org) -> EvidenceRules:
    """The org's evidence rules, DEFAULT_RULES when it saved none. One query."""
    raw = ApprovalSettings.objects.for_org(org).values_list("evidence_rules", flat=True).first()
    return EvidenceRules.from_json(raw)


def evidence_rules_subquery(org):
    """The org's stored rules as a subquery, so that the query that loads a row or its
    evidence links brings them along (the checklist then needs no query of its own)."""
    return Subquery(ApprovalSettings.objects.for_org(org).values("evidence_rules")[:1])


class State:
    MISSING, PENDING, ACCEPTED = "missing", "pending", "accepted"
    REJECTED, EXPIRED = "rejected", "expired"
    # What the gate refuses: the seed's "if the evidence file is missing, the policy should
    # default to no production approval", with rejected and expired as not there at all.
    BLOCKING = frozenset({MISSING, REJECTED, EXPIRED})


@dataclass
class ChecklistLine:
    kind: str
    label: str
    why: str
    action: str = ""
    state: str = State.MISSING
    item: EvidenceItem | None = None  # the newest live item that closes (or fails) it

    @property
    def blocking(self) -> bool:
        return self.state in State.BLOCKING

    @property
    def problem(self) -> str:
        """What the page and the gate say about a blocking line."""
        if self.state == State.MISSING:
            if self.kind == K.SMOKE_TEST:
                return f"{self.label}: no passed smoke test attached"
            return f"{self.label}: missing"
        if self.state == State.EXPIRED:
            return f"{self.label}: expired on {self.item.valid_until:%Y-%m-%d}"
        if self.state == State.REJECTED:
            return f"{self.label}: rejected ({self.item.review_comment})"
        return f"{self.label}: {self.state}"


@dataclass
class Checklist:
    lines: list[ChecklistLine]
    items: list[EvidenceItem] = field(default_factory=list)  # every attached item, newest first

    @property
    def required(self) -> bool:
        return bool(self.lines)

    @property
    def blocking(self) -> list[ChecklistLine]:
        return [line for line in self.lines if line.blocking]

    @property
    def pending(self) -> list[ChecklistLine]:
        return [line for line in self.lines if line.state == State.PENDING]


def required_controls(*, tier: str, actions, data_classes,
                      rules: EvidenceRules | None = None) -> list[ChecklistLine]:
    """The empty checklist lines a row of this tier, actions and data classes needs under
    `rules` (the seed's defaults when None), in table order (smoke tests in the row's
    action order)."""
    kinds = (rules or DEFAULT_RULES).required_kinds(tier, data_classes)
    lines = []
    for req in REQUIREMENTS:
        if req.kind not in kinds:
            continue
        if req.per_action:
            lines += [ChecklistLine(req.kind, f"{req.label}: {Action(a).label.lower()}",
                                    req.why, action=a) for a in actions]
        else:
            lines.append(ChecklistLine(req.kind, req.label, req.why))
    return lines


def row_links(row: PolicyRow):
    """The row's evidence links with their items, newest item first, each item annotated
    with `is_superseded` (a newer revision exists): one query."""
    newer = EvidenceItem.objects.filter(supersedes=OuterRef("item"))
    return (RowEvidence.objects.for_org(row.org_id).filter(row=row)
            .select_related("item").annotate(is_superseded=Exists(newer),
                                             org_evidence_rules=evidence_rules_subquery(
                                                 row.org_id))
            .order_by("-item__collected_at", "-item__pk"))


def _rules_of(row: PolicyRow, links) -> EvidenceRules:
    # The org's rules ride along with the row (selectors.row_get) or its links (row_links);
    # only a row loaded otherwise and without links costs a query of its own.
    if hasattr(row, "org_evidence_rules"):
        return EvidenceRules.from_json(row.org_evidence_rules)
    if links and hasattr(links[0], "org_evidence_rules"):
        return EvidenceRules.from_json(links[0].org_evidence_rules)
    return evidence_rules_get(org=row.org_id)


def _state(item: EvidenceItem, today: date) -> str:
    if item.is_expired(today):
        return State.EXPIRED
    return {EvidenceItem.Review.ACCEPTED: State.ACCEPTED,
            EvidenceItem.Review.REJECTED: State.REJECTED}.get(item.review_status,
                                                               State.PENDING)


def _closes(line: ChecklistLine, item: EvidenceItem) -> bool:
    if item.kind != line.kind:
        return False
    if line.kind == K.SMOKE_TEST:
        # A smoke test closes its action only when it says it passed, exactly True.
        return item.action == line.action and item.content.get("passed") is True
    if line.kind == K.ROLLBACK_TEST:
        # A recorded rollback test that says it failed proves no way back.
        return item.content.get("passed") is not False
    return True


def _smoke_verdict(line: ChecklistLine, live: list[EvidenceItem]) -> EvidenceItem | None:
    """The item that closes a smoke-test line, or None. The newest smoke test of the
    action decides: a newer failure reopens the line. The tests of one smoke run
    (content "run", approvals/services/smoke.py: one per model, the fallback's included)
    are judged together, so one failed model fails the action for that run."""
    tests = [item for item in live if item.kind == K.SMOKE_TEST and item.action == line.action]
    if not tests:
        return None
    newest = tests[0]
    run = newest.content.get("run") if isinstance(newest.content, dict) else None
    group = [item for item in tests if run and item.content.get("run") == run] or [newest]
    return newest if all(_closes(line, item) for item in group) else None


def row_checklist(row: PolicyRow, *, today: date | None = None, links=None,
                  rules: EvidenceRules | None = None) -> Checklist:
    """The row's checklist under the org's evidence rules (`rules`, else read along with
    the row or its links): each required control with its state (missing, pending,
    accepted, rejected, expired) judged by the newest live (not superseded) item that
    closes it; a smoke-test line by the newest smoke test (run) of its action
    (_smoke_verdict). One query for the links (none when `links` is given; one more only
    for a row without links that was not loaded by selectors.row_get); the row's
    environment should be loaded already."""
    today = today or timezone.localdate()
    links = list(row_links(row) if links is None else links)
    items = [link.item for link in links]
    for link in links:
        link.item.is_superseded = link.is_superseded
    live = [item for item in items if not item.is_superseded]
    rules = rules or _rules_of(row, links)
    lines = required_controls(tier=row.environment.tier, actions=row.allowed_actions,
                              data_classes=row.data_classes, rules=rules)
    for line in lines:
        if line.kind == K.SMOKE_TEST:
            line.item = _smoke_verdict(line, live)
        else:
            line.item = next((item for item in live if _closes(line, item)), None)
        line.state = _state(line.item, today) if line.item else State.MISSING
    return Checklist(lines=lines, items=items)


def row_evidence_context(*, row: PolicyRow, actor, form=None) -> dict:
    """Template context for the evidence section of one row's page: the checklist, the
    attached items with who may review each, the attach form and permission booleans.
    One query (the links and their items) when the row comes with its environment
    (selectors.row_get)."""
    checklist = row_checklist(row)
    for item in checklist.items:
        item.can_review = (not item.is_superseded) and can_review_evidence(actor, item)
    may_attach = can_attach_evidence(actor, row)
    if form is None and may_attach:
        form = EvidenceAttachForm(items=checklist.items, actions=row.allowed_actions)
    return {"row": row, "evidence_checklist": checklist, "evidence_form": form,
            "can_attach_evidence": may_attach, "today": timezone.localdate()}


def row_evidence_get(*, org, row: PolicyRow, item_id) -> RowEvidence:
    """One evidence link of this row, with its item; 404 when the item is missing, foreign
    or not attached to this row (an item is reached only through a row you can see)."""
    newer = EvidenceItem.objects.filter(supersedes=OuterRef("item"))
    qs = (RowEvidence.objects.select_related("item").annotate(is_superseded=Exists(newer)))
    link = get_for_org_or_404(qs, org, row=row, item__public_id=item_id)
    link.item.is_superseded = link.is_superseded
    return link
