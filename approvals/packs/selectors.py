"""Reads of evidence packs, each narrowed to one org (and to what the reader may see)."""

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from approvals.packs.models import EvidencePack
from approvals.packs.permissions import (
    can_collect_audit_extract,
    can_download_pack,
    can_export_row_pack,
    can_see_all_packs,
)
from orgs.scoping import get_for_org_or_404

PACK_LIST_LIMIT = 50
_PACK_RELATED = ("row__caller", "row__environment", "row__project", "project",
                 "requested_by__user")


def pack_list(*, org, actor) -> QuerySet[EvidencePack]:
    """The newest PACK_LIST_LIMIT packs of org that actor may download (all of them for
    auditors, security, admins and owners; else the ones actor requested), with their
    subject and requester: one query."""
    qs = EvidencePack.objects.for_org(org).select_related(*_PACK_RELATED)
    if not can_see_all_packs(actor):
        qs = qs.filter(requested_by=actor)
    return qs.order_by("-created_at", "-pk")[:PACK_LIST_LIMIT]


def pack_get(*, org, actor, public_id) -> EvidencePack:
    """One pack of org: 404 when missing or foreign, 403 when actor may not download it."""
    pack = get_for_org_or_404(EvidencePack.objects.select_related(*_PACK_RELATED), org,
                              public_id=public_id)
    if not can_download_pack(actor, pack):
        raise PermissionDenied("Only auditors, security reviewers, admins and the member "
                               "who requested it see this evidence pack.")
    return pack


def row_pack_context(*, actor, row) -> dict:
    """The row page's booleans for its audit extract and pack buttons (no query)."""
    return {"can_collect_audit_extract": can_collect_audit_extract(actor, row),
            "can_export_pack": can_export_row_pack(actor, row)}
