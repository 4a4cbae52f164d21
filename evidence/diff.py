"""catalog_diff: what changed between two snapshots of the same source.

Entries are joined on their source key and compared on a fixed set of semantic fields,
never as whole rows: between the two real LiteLLM maps one field (max_tokens) vanished
from every row, and a whole-entry diff reports 876 "changes" that are only that. The
evidence issue uses the result to raise renewal triggers on the policy rows it touches.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError

from evidence.models import CatalogEntry, CatalogSnapshot


class Change:
    ADDED = "added"
    REMOVED = "removed"
    PRICE = "price_changed"
    CONTEXT = "context_changed"
    FAMILY = "family_changed"
    DEPRECATION_SCHEDULED = "deprecation_scheduled"
    DEPRECATION_CHANGED = "deprecation_changed"
    ALL = (ADDED, REMOVED, PRICE, CONTEXT, FAMILY, DEPRECATION_SCHEDULED, DEPRECATION_CHANGED)
    LABELS = {ADDED: "Added", REMOVED: "Removed", PRICE: "Price changed",
              CONTEXT: "Context changed", FAMILY: "Family changed",
              DEPRECATION_SCHEDULED: "Deprecation scheduled",
              DEPRECATION_CHANGED: "Deprecation changed"}


IDENTITY = ("key", "platform", "model_id", "region", "family")
# The semantic fields, grouped by the change they make.
COMPARED = {
    Change.PRICE: ("input_price", "output_price", "unit_price", "price_unit"),
    Change.CONTEXT: ("context_window", "max_output_tokens"),
    Change.FAMILY: ("families",),
}
FIELDS = IDENTITY + sum(COMPARED.values(), ()) + ("deprecation_date",)


@dataclass
class CatalogDiff:
    old: CatalogSnapshot
    new: CatalogSnapshot
    changes: list[dict] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        counter = Counter(c["change"] for c in self.changes)
        return {kind: counter.get(kind, 0) for kind in Change.ALL}

    def grouped(self, by: str) -> dict[str, dict[str, int]]:
        """{platform or family: {change: n}}, largest groups first."""
        groups: dict[str, Counter] = defaultdict(Counter)
        for change in self.changes:
            groups[change[by]][change["change"]] += 1
        ordered = sorted(groups.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
        return {name: dict(counter) for name, counter in ordered}

    def plain_changes(self) -> list[dict]:
        """The changes with old and new values as JSON-ready text."""
        return [{**c, "old": _plain(c["old"]), "new": _plain(c["new"])} for c in self.changes]

    def as_dict(self) -> dict:
        return {
            "old": {"id": str(self.old.public_id), "source_name": self.old.source_name,
                    "snapshot_date": self.old.snapshot_date.isoformat()},
            "new": {"id": str(self.new.public_id), "source_name": self.new.source_name,
                    "snapshot_date": self.new.snapshot_date.isoformat()},
            "counts": self.counts,
            "by_platform": self.grouped("platform"),
            "by_family": self.grouped("family"),
            "changes": self.plain_changes(),
        }


def _text(value):
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")  # 2.5, not 2.500000000000
    if isinstance(value, date):
        return value.isoformat()
    return value


def _plain(values: dict | None) -> dict | None:
    return None if values is None else {k: _text(v) for k, v in values.items()}


def _rows(snapshot) -> dict[str, tuple]:
    # values_list, not model instances: two snapshots of ~4,500 rows in well under 1 s.
    qs = CatalogEntry.objects.for_org(snapshot.org_id).filter(snapshot=snapshot)
    return {row[0]: row for row in qs.values_list(*FIELDS).iterator(chunk_size=5000)}


def _change(kind: str, row: tuple, old: dict | None, new: dict | None) -> dict:
    return {"change": kind, "key": row[0], "platform": row[1], "model_id": row[2],
            "region": row[3], "family": row[4], "old": old, "new": new}


def _compare(old_row: tuple, new_row: tuple) -> list[dict]:
    old, new = dict(zip(FIELDS, old_row, strict=True)), dict(zip(FIELDS, new_row, strict=True))
    changes = []
    for kind, names in COMPARED.items():
        if any(old[n] != new[n] for n in names):
            changes.append(_change(kind, new_row, {n: old[n] for n in names},
                                   {n: new[n] for n in names}))
    before, after = old["deprecation_date"], new["deprecation_date"]
    if before != after:
        kind = Change.DEPRECATION_SCHEDULED if before is None else Change.DEPRECATION_CHANGED
        changes.append(_change(kind, new_row, {"deprecation_date": before},
                               {"deprecation_date": after}))
    return changes


def catalog_diff(*, org, old: CatalogSnapshot, new: CatalogSnapshot) -> CatalogDiff:
    """Added, removed, price-, context-, family-changed and deprecation changes between two
    snapshots of org from the same source. A read: anyone with catalog:read may call it.
    Raises ValidationError when the snapshots are of different sources or other orgs."""
    if old.org_id != org.pk or new.org_id != org.pk:
        raise ValidationError("Both snapshots must belong to this organization.")
    if old.source_name != new.source_name:
        raise ValidationError(f"'{old}' and '{new}' are of different sources; a diff compares "
                              "two snapshots of the same source.")
    before, after = _rows(old), _rows(new)
    result = CatalogDiff(old=old, new=new)
    for key in sorted(after.keys() - before.keys()):
        result.changes.append(_change(Change.ADDED, after[key], None, None))
    for key in sorted(before.keys() - after.keys()):
        result.changes.append(_change(Change.REMOVED, before[key], None, None))
    for key in sorted(before.keys() & after.keys()):
        if before[key] != after[key]:
            result.changes.extend(_compare(before[key], after[key]))
    return result
