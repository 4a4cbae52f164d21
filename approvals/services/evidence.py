"""Evidence on a row: attach collected items, and collect the catalog row automatically
when a row is screened. The items themselves are evidence/items.py's."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from approvals.models import PolicyRow, RowEvidence
from approvals.permissions import can_attach_evidence
from approvals.services.rows import lock_row, require_member
from evidence.items import evidence_item_collect_system, evidence_item_create
from evidence.models import CatalogEntry, EvidenceItem
from orgs.audit import record_event
from orgs.events import event_emit


def _link(*, org, actor, row: PolicyRow, item: EvidenceItem) -> RowEvidence:
    if item.org_id != org.pk:
        raise ValidationError({"item": "That evidence item is not in this organization."})
    if RowEvidence.objects.for_org(org).filter(row=row, item=item).exists():
        raise ValidationError({"item": "This item is attached to the row already."})
    return RowEvidence.objects.create(org=org, row=row, item=item, attached_by=actor)


@transaction.atomic
def row_evidence_attach(*, org, actor, row: PolicyRow, item: EvidenceItem) -> RowEvidence:
    """The row's evidence owner, app owner, requester, engineering owner or platform
    attaches an evidence item of the org to a row that is not finished. Audits and emits
    approval.evidence_attached on the row."""
    require_member(actor, org)
    row = lock_row(org, row)
    if not can_attach_evidence(actor, row):
        raise PermissionDenied("Only the row's owners, its requester or platform attach "
                               "evidence, and not to a revoked or expired row.")
    link = _link(org=org, actor=actor, row=row, item=item)
    changes = {"item": [None, str(item.public_id)], "kind": [None, item.kind],
               "sha256": [None, item.sha256]}
    record_event(org=org, actor=actor, action="approval.evidence_attached", obj=row,
                 changes=changes)
    event_emit(org=org, kind="approval.evidence_attached", subject=row,
               payload={"item": str(item.public_id), "kind": item.kind, "title": item.title,
                        "version": row.version})
    return link


@transaction.atomic
def row_evidence_collect(*, org, actor, row: PolicyRow, **item_fields) -> RowEvidence:
    """Collect a new item (evidence_item_create: file, URL or content, limits, hash) and
    attach it to the row in one transaction: a refused attach stores nothing. Audits
    evidence.collected on the item and approval.evidence_attached on the row."""
    require_member(actor, org)
    if not can_attach_evidence(actor, lock_row(org, row)):
        raise PermissionDenied("Only the row's owners, its requester or platform attach "
                               "evidence, and not to a revoked or expired row.")
    item = evidence_item_create(org=org, actor=actor, **item_fields)
    return row_evidence_attach(org=org, actor=actor, row=row, item=item)


def catalog_evidence_content(*, org, findings: dict) -> dict:
    """The catalog-row evidence of a screen: each screened entry as the current snapshot
    lists it (snapshot id, date and SHA-256, families, availability, prices). One query."""
    ids = [f["current_entry"] for f in findings["models"] if f["current_entry"]]
    entries = {str(e.public_id): e for e in CatalogEntry.objects.for_org(org)
               .filter(public_id__in=ids).select_related("snapshot")}
    rows = []
    for finding in findings["models"]:
        e = entries.get(finding["current_entry"] or "")
        if e is None:
            continue
        rows.append({
            "entry": str(e.public_id), "key": e.key, "platform": e.platform,
            "model_id": e.model_id, "region": e.region, "families": e.family_list,
            "availability": e.availability, "snapshot": str(e.snapshot.public_id),
            "snapshot_date": e.snapshot.snapshot_date.isoformat(),
            "snapshot_sha256": e.snapshot.sha256, "actions": finding["actions"],
            "input_price": _price(e.input_price), "output_price": _price(e.output_price),
            "unit_price": _price(e.unit_price), "price_unit": e.price_unit,
        })
    return {"entries": rows}


def _price(value):
    return None if value is None else str(value)


def collect_catalog_evidence(*, org, row: PolicyRow, findings: dict) -> EvidenceItem:
    """Inside row_screen's transaction: record the screened catalog rows as a system
    collected catalog_row item and link it to the row. row_screen's own audit event names
    the item, so the screen move keeps its one audit event."""
    content = catalog_evidence_content(org=org, findings=findings)
    keys = ", ".join(r["key"] for r in content["entries"])[:150]
    item = evidence_item_collect_system(org=org, kind=EvidenceItem.Kind.CATALOG_ROW,
                                        title=f"Catalog rows at screening: {keys}",
                                        content=content)
    _link(org=org, actor=None, row=row, item=item)
    return item
