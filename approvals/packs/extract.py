"""Audit extracts: a row's audit events, with their chain hashes, as evidence.

The extract holds every audit event about the row itself (requested, edited, moved,
signed, evidence attached, renewal reviews: what the row's timeline shows), about the
evidence items attached to it (collected, reviewed) and about its findings, oldest first,
each with everything its hash covers, so a reader can recompute each event's hash
offline. It also says whether the org's whole chain verified when the extract was taken
(orgs.audit.verify_chain). It is collected by the system (collector "system") and linked
to the row; its own audit event, approval.audit_extract_collected, is on the row and
names who asked (a member from the row page, or nobody when a pack build collected it).
"""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from approvals.models import Finding, PolicyRow, RowEvidence
from approvals.packs.permissions import can_collect_audit_extract
from approvals.services.rows import require_member
from evidence.items import evidence_item_collect_system
from evidence.models import EvidenceItem
from orgs.audit import AuditChainHead, AuditEvent, record_event, verify_chain
from orgs.events import event_emit

EXTRACT_FORMAT = "governance-audit-extract/1"


def row_audit_events(*, org, row: PolicyRow):
    """The audit events of org about row, its attached evidence items and its findings,
    oldest first. Three queries (item ids, finding ids, the events)."""
    item_ids = [str(u) for u in RowEvidence.objects.for_org(org).filter(row=row)
                .values_list("item__public_id", flat=True)]
    finding_ids = [str(u) for u in Finding.objects.for_org(org).filter(row=row)
                   .values_list("public_id", flat=True)]
    about = (Q(object_type=PolicyRow._meta.model_name, object_id=str(row.public_id))
             | Q(object_type=EvidenceItem._meta.model_name, object_id__in=item_ids)
             | Q(object_type=Finding._meta.model_name, object_id__in=finding_ids))
    return AuditEvent.objects.for_org(org).filter(about).order_by("seq")


def _event(e: AuditEvent) -> dict:
    # Exactly what compute_hash() covers, plus the event's id and hash: a reader
    # recomputes sha256 of the canonical JSON (sorted keys, no spaces) of the event
    # without "id" and "hash" and compares it with "hash" (docs/evidence-packs.md).
    return {**e.content(), "id": str(e.public_id), "hash": e.hash}


def audit_extract_content(*, org, row: PolicyRow) -> dict:
    """The content of an audit extract of row now: its events, their time and seq range,
    and the chain's state (verified or the first problem; the head's seq and hash)."""
    events = [_event(e) for e in row_audit_events(org=org, row=row).iterator(chunk_size=500)]
    problem = verify_chain(org)
    head = AuditChainHead.objects.for_org(org).first()
    return {
        "format": EXTRACT_FORMAT, "org": org.slug, "row": str(row.public_id),
        "extracted_at": timezone.now().isoformat(),
        "range": {"from": events[0]["created_at"] if events else None,
                  "to": events[-1]["created_at"] if events else None,
                  "first_seq": events[0]["seq"] if events else None,
                  "last_seq": events[-1]["seq"] if events else None},
        "chain": {"verified": problem is None, "problem": problem,
                  "head_seq": head.seq if head else 0,
                  "head_hash": head.last_hash if head else ""},
        "event_count": len(events), "events": events,
    }


@transaction.atomic
def row_audit_extract_collect(*, org, actor, row: PolicyRow, pack=None) -> EvidenceItem:
    """Collect an audit extract of row and attach it. actor is a member who may
    (can_collect_audit_extract: the row's evidence owner, security, platform), or None
    when a pack build collects it (then `pack` names the pack). Works on finished rows
    too: the record of a revoked row is what an auditor asks for. Audits
    approval.audit_extract_collected on the row; emits evidence.audit_extract_collected."""
    if actor is not None:
        require_member(actor, org)
        if not can_collect_audit_extract(actor, row):
            raise PermissionDenied("Only the row's evidence owner, security reviewers and "
                                   "admins collect an audit extract.")
    if row.org_id != org.pk:
        raise PermissionDenied("That row is not in this organization.")
    content = audit_extract_content(org=org, row=row)
    last = content["range"]["last_seq"]
    title = (f"Audit extract: {content['event_count']} events"
             + (f" to #{last}" if last else "")
             + ("" if content["chain"]["verified"] else " (chain did NOT verify)"))
    item = evidence_item_collect_system(org=org, kind=EvidenceItem.Kind.AUDIT_EXTRACT,
                                        title=title, content=content)
    RowEvidence.objects.create(org=org, row=row, item=item, attached_by=actor)
    changes = {"item": [None, str(item.public_id)], "sha256": [None, item.sha256],
               "events": [None, content["event_count"]],
               "chain_verified": [None, content["chain"]["verified"]]}
    if pack is not None:
        changes["pack"] = [None, str(pack.public_id)]
    record_event(org=org, actor=actor, action="approval.audit_extract_collected", obj=row,
                 changes=changes)
    event_emit(org=org, kind="evidence.audit_extract_collected", subject=row,
               payload={"item": str(item.public_id), "events": content["event_count"],
                        "chain_verified": content["chain"]["verified"]})
    return item
