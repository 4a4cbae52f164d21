"""The evidence checklist of a row: the seed's controls, the artifact that closes each,
and what is missing, rejected or expired.

REQUIREMENTS is the one table of required evidence (the seed's defaults): production rows
need a catalog row, a passed route smoke test per allowed action, a usage row, a billing
row and a rollback test; rows that take any non-public data class add DPA or contract
scope, retention, logging scope and a redaction rule. Other tiers require nothing by
default. Issue #7 may make the table configurable per org; everything else reads it
through required_controls().

The gate (approvals/gates.py) blocks on missing, rejected and expired lines; a pending
line counts as present (the three sign-offs are the human review of the pack) but the page
shows it. The row page includes templates/approvals/_row_evidence.html with
row_evidence_context().
"""

from dataclasses import dataclass, field
from datetime import date

from django.db.models import Exists, OuterRef
from django.utils import timezone

from approvals.evidence_forms import EvidenceAttachForm
from approvals.models import Action, DataClass, PolicyRow, RowEvidence
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
)


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


def _takes_non_public(data_classes) -> bool:
    return any(dc != DataClass.PUBLIC for dc in data_classes)


def required_controls(*, tier: str, actions, data_classes) -> list[ChecklistLine]:
    """The empty checklist lines a row of this tier, actions and data classes needs, in
    table order (smoke tests in the row's action order)."""
    lines = []
    for req in REQUIREMENTS:
        if tier not in req.tiers or (req.non_public_only
                                     and not _takes_non_public(data_classes)):
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
            .select_related("item").annotate(is_superseded=Exists(newer))
            .order_by("-item__collected_at", "-item__pk"))


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


def row_checklist(row: PolicyRow, *, today: date | None = None, links=None) -> Checklist:
    """The row's checklist: each required control with its state (missing, pending,
    accepted, rejected, expired) judged by the newest live (not superseded) item that
    closes it; a smoke-test line by the newest smoke test (run) of its action
    (_smoke_verdict). One query for the links (none when `links` is given); the row's
    environment should be loaded already."""
    today = today or timezone.localdate()
    links = list(row_links(row) if links is None else links)
    items = [link.item for link in links]
    for link in links:
        link.item.is_superseded = link.is_superseded
    live = [item for item in items if not item.is_superseded]
    lines = required_controls(tier=row.environment.tier, actions=row.allowed_actions,
                              data_classes=row.data_classes)
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
