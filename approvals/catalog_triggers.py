"""Catalog change -> renewal triggers (issue #7 item 6).

When a catalog snapshot is imported (evidence.signals.catalog_imported, sent inside the
import's transaction), it is diffed against the previous snapshot of the same source in
the org (evidence.diff.catalog_diff). Every policy row that approves an affected model gets
one finding per (row, snapshot, model, change) naming what changed, and an active row moves
to renewal due where the org's rule says so. All of it commits with the snapshot or not at
all; a second run for the same snapshot raises nothing new and moves nothing.

Which rows: those in force (active, renewal due, suspended) and those in the pipeline
before activation (submitted, screening, testing, evidence, in review). Drafts and rows
back with the requester are screened against the newest catalog when resubmitted, and
finished rows no longer matter. A row's approved entries may point at any earlier
snapshot of the source (the one current when it was requested): they are matched by
their catalog key, the join key of the diff, so a model the new snapshot removes is found
although no entry of the new snapshot exists for it.

Which rows move (only active ones, through the state machine: row_mark_renewal_due, actor
the system; a row already due stays due; pipeline and suspended rows keep their state and
carry the finding): a change kind moves a row when the org's approval settings list it
(catalog_renewal_changes, default removed + deprecation + family), or when the row's own
renewal triggers cover it. The org's rule is the floor no row can opt out of; a row's
owners can ask for more: `catalog_change` ("removed, renamed, price, route") covers every
kind, `model_change` ("version change or retirement") covers removal and deprecation.
A withdrawn deprecation date is good news: it raises an info finding and moves nothing.
"""

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.urls import reverse

from approvals.findings import finding_raise
from approvals.lint import IN_FORCE
from approvals.models import CatalogTrigger, Finding, PolicyRow, RenewalTrigger
from approvals.selectors import approval_settings_get
from approvals.services.workflow import row_mark_renewal_due
from approvals.workflow import REVIEW_STATES, InvalidTransition, Status
from evidence.diff import Change, catalog_diff
from evidence.models import CatalogSnapshot

WATCHED = IN_FORCE | REVIEW_STATES
# What a row's own renewal triggers ask to be reopened for (see the module docstring).
ROW_TRIGGER_COVERS = {
    RenewalTrigger.MODEL_CHANGE: frozenset({CatalogTrigger.REMOVED, CatalogTrigger.DEPRECATION}),
    RenewalTrigger.CATALOG_CHANGE: frozenset(CatalogTrigger.values),
}
TRIGGER_OF = {Change.REMOVED: CatalogTrigger.REMOVED,
              Change.DEPRECATION_SCHEDULED: CatalogTrigger.DEPRECATION,
              Change.DEPRECATION_CHANGED: CatalogTrigger.DEPRECATION,
              Change.PRICE: CatalogTrigger.PRICE, Change.FAMILY: CatalogTrigger.FAMILY}
Severity = Finding.Severity
PRICE_FIELDS = (("input_price", "input price"), ("output_price", "output price"),
                ("unit_price", "unit price"))


@dataclass
class TriggerResult:
    """What one run did for one snapshot (counts of effects that happened in this run)."""
    previous: CatalogSnapshot | None = None
    changes: int = 0  # changes under models some watched row approves
    findings: int = 0
    moved: list[int] = field(default_factory=list)  # row pks moved to renewal due


@dataclass(frozen=True)
class Hit:
    """One change under one approved model, as a finding will name it."""
    change: dict
    trigger: str
    title: str
    severity: str
    may_reopen: bool  # False for news that never reopens a row (a withdrawn deprecation)


def catalog_renewal_labels(settings) -> list[str]:
    """The labels of the change kinds that reopen rows under the org's settings."""
    chosen = set(settings.catalog_renewal_changes or [])
    return [label for value, label in CatalogTrigger.choices if value in chosen]


def previous_snapshot(*, org, snapshot: CatalogSnapshot) -> CatalogSnapshot | None:
    """The snapshot of the same source that `snapshot` follows: the newest other one by
    catalog date (then import time). None when it is the first of its source, or when a
    newer-dated one exists already (an older file imported late is history, not news)."""
    others = CatalogSnapshot.objects.for_org(org).filter(
        source_name=snapshot.source_name).exclude(pk=snapshot.pk)
    if others.filter(snapshot_date__gt=snapshot.snapshot_date).exists():
        return None
    return others.order_by("-snapshot_date", "-imported_at").first()


def _watched_keys(org, source_name: str) -> dict[str, set[int]]:
    """{catalog key: {row pk}} of the entries of this source approved by watched rows.
    One query; bounded by the org's rows, not by the catalog's size."""
    through = PolicyRow.approved_models.through
    rows = PolicyRow.objects.for_org(org).filter(status__in=WATCHED).values("pk")
    pairs = through.objects.filter(
        policyrow__in=rows, catalogentry__snapshot__source_name=source_name,
    ).values_list("catalogentry__key", "policyrow_id")
    keys: dict[str, set[int]] = {}
    for key, row_id in pairs:
        keys.setdefault(key, set()).add(row_id)
    return keys


def _usd(value) -> str:
    return "none" if value is None else format(Decimal(value).normalize(), "f")


def _price_moves(change: dict, tolerance: int) -> list[str]:
    """'input price +25 % (2 → 2.5)' for each price that moved beyond the tolerance; a
    price that appeared, vanished or left zero always counts."""
    moves = []
    for name, label in PRICE_FIELDS:
        old, new = change["old"].get(name), change["new"].get(name)
        if old == new:
            continue
        if old is None or new is None or old == 0:
            moves.append(f"{label} {_usd(old)} → {_usd(new)}")
            continue
        percent = (Decimal(new) - Decimal(old)) * 100 / Decimal(old)
        if abs(percent) > tolerance:
            moves.append(f"{label} {percent:+.0f} % ({_usd(old)} → {_usd(new)})")
    return moves


def _price_up(change: dict) -> bool:
    return any((change["new"].get(n) or 0) > (change["old"].get(n) or 0)
               for n, _ in PRICE_FIELDS)


def _families(values: dict) -> str:
    return ", ".join(f for f in (values.get("families") or "").split("|") if f) or "none"


def _hit(change: dict, snapshot, tolerance: int) -> Hit | None:
    """The finding one diff change amounts to, or None (added, context, price within
    the tolerance)."""
    kind, key = change["change"], change["key"]
    trigger = TRIGGER_OF.get(kind)
    if trigger == CatalogTrigger.REMOVED:
        return Hit(change, trigger, f"{key} was removed from the catalog ({snapshot})",
                   Severity.CRITICAL, True)
    if kind == Change.DEPRECATION_SCHEDULED:
        when = change["new"]["deprecation_date"]
        return Hit(change, trigger, f"{key}: deprecation scheduled for {when:%Y-%m-%d} "
                   f"({snapshot})", Severity.WARNING, True)
    if kind == Change.DEPRECATION_CHANGED:
        before, after = change["old"]["deprecation_date"], change["new"]["deprecation_date"]
        if after is None:
            return Hit(change, trigger, f"{key}: deprecation date {before:%Y-%m-%d} withdrawn "
                       f"({snapshot})", Severity.INFO, False)
        return Hit(change, trigger, f"{key}: deprecation date changed from {before:%Y-%m-%d} "
                   f"to {after:%Y-%m-%d} ({snapshot})", Severity.WARNING, True)
    if trigger == CatalogTrigger.PRICE:
        moves = _price_moves(change, tolerance)
        if not moves:
            return None
        severity = Severity.WARNING if _price_up(change) else Severity.INFO
        return Hit(change, trigger, f"{key}: price changed, {'; '.join(moves)} USD ({snapshot})",
                   severity, True)
    if trigger == CatalogTrigger.FAMILY:
        return Hit(change, trigger, f"{key}: endpoint families changed from "
                   f"{_families(change['old'])} to {_families(change['new'])} ({snapshot})",
                   Severity.WARNING, True)
    return None


def _reopens(row: PolicyRow, hit: Hit, org_rule: set[str]) -> bool:
    if not hit.may_reopen:
        return False
    covered = set(org_rule)
    for trigger in row.renewal_triggers or []:
        covered |= ROW_TRIGGER_COVERS.get(trigger, frozenset())
    return hit.trigger in covered


def _dedupe_key(row, snapshot, change) -> str:
    key = change["key"]
    if len(key) > 80:  # the dedupe key has 200 characters; a long catalog key is hashed
        key = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"catalog:{row.public_id}:{snapshot.public_id}:{key}:{change['change']}"


def _diff_link(org, previous, snapshot, kind) -> str:
    query = urlencode({"old": previous.public_id, "new": snapshot.public_id, "change": kind})
    return f"{reverse('evidence:snapshot_diff', args=[org.slug])}?{query}"


def _raise(*, org, row, hit, previous, snapshot, reopens) -> bool:
    change = hit.change
    _finding, created = finding_raise(
        org=org, kind=Finding.Kind.CATALOG_CHANGE, dedupe_key=_dedupe_key(row, snapshot, change),
        title=hit.title, row=row, severity=hit.severity, source=snapshot,
        link=_diff_link(org, previous, snapshot, change["change"]),
        detail={"change": change["change"], "trigger": hit.trigger, "key": change["key"],
                "platform": change["platform"], "model_id": change["model_id"],
                "region": change["region"], "old": _plain(change["old"]),
                "new": _plain(change["new"]), "snapshot": str(snapshot.public_id),
                "previous": str(previous.public_id), "reopens_row": reopens})
    return created


def _plain(values):
    if values is None:
        return None
    return {k: (_usd(v) if isinstance(v, Decimal) else
                v.isoformat() if hasattr(v, "isoformat") else v) for k, v in values.items()}


def _reopen(org, row, reasons: list[str]) -> bool:
    """Move an active row to renewal due (the system, through the state machine)."""
    if row.status != Status.ACTIVE:
        return False  # already due, suspended, or still in the pipeline: the finding says it
    try:
        row_mark_renewal_due(org=org, actor=None, row=row, reason="; ".join(reasons)[:500])
    except (InvalidTransition, ValidationError):
        # Moved meanwhile, or a row without a renewal date (not production): the open
        # finding is what its owners see.
        return False
    return True


def catalog_triggers_run(*, org, snapshot: CatalogSnapshot) -> TriggerResult:
    """Raise the catalog-change findings of `snapshot` against the previous snapshot of
    its source, and move active rows to renewal due where the org's rule or the row's
    own triggers say so (see the module docstring). Called by the catalog_imported
    receiver inside the import's transaction (actor: the system), and safe to call again:
    findings are once per (row, snapshot, model, change), and a row moves only with a
    newly raised finding. Audits through finding_raise and row_mark_renewal_due."""
    result = TriggerResult()
    watched = _watched_keys(org, snapshot.source_name)
    if not watched:
        return result  # most imports: nothing approved from this source, no diff needed
    result.previous = previous = previous_snapshot(org=org, snapshot=snapshot)
    if previous is None:
        return result
    settings = approval_settings_get(org=org)
    tolerance = int(settings.catalog_price_tolerance_percent)
    org_rule = set(settings.catalog_renewal_changes or [])
    hits = [hit for change in catalog_diff(org=org, old=previous, new=snapshot).changes
            if change["key"] in watched and (hit := _hit(change, snapshot, tolerance))]
    result.changes = len(hits)
    row_ids = set().union(*(watched[h.change["key"]] for h in hits)) if hits else set()
    rows = PolicyRow.objects.for_org(org).filter(pk__in=row_ids).select_related(
        "project", "app_owner", "engineering_owner").order_by("pk")
    for row in rows:
        reasons = []
        for hit in (h for h in hits if row.pk in watched[h.change["key"]]):
            reopens = _reopens(row, hit, org_rule)
            if _raise(org=org, row=row, hit=hit, previous=previous, snapshot=snapshot,
                      reopens=reopens):
                result.findings += 1
                if reopens:
                    reasons.append(hit.title)
        if reasons and _reopen(org, row, reasons):
            result.moved.append(row.pk)
    return result


def on_catalog_imported(sender, *, org, snapshot, actor=None, **kwargs):
    """evidence.signals.catalog_imported receiver (connected in ApprovalsConfig.ready)."""
    return catalog_triggers_run(org=org, snapshot=snapshot)
