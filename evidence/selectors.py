"""Reads for the catalog; every queryset is narrowed to one org."""

from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from evidence.models import CatalogEntry, CatalogSnapshot, EvidenceItem, ImportJob
from orgs.scoping import get_for_org_or_404

SORTS = {
    "model": ("model_id", "platform", "region"),
    "-model": ("-model_id", "platform", "region"),
    "platform": ("platform", "model_id", "region"),
    "input_price": (F("input_price").asc(nulls_last=True), "model_id", "key"),
    "-input_price": (F("input_price").desc(nulls_last=True), "model_id", "key"),
    "context": (F("context_window").asc(nulls_last=True), "model_id", "key"),
    "-context": (F("context_window").desc(nulls_last=True), "model_id", "key"),
    "deprecation": (F("deprecation_date").asc(nulls_last=True), "model_id", "key"),
}


def snapshot_list(*, org) -> QuerySet[CatalogSnapshot]:
    """Org's snapshots, newest catalog date first (one query)."""
    return CatalogSnapshot.objects.for_org(org).order_by("-snapshot_date", "-imported_at")


def snapshot_get(*, org, public_id) -> CatalogSnapshot:
    return get_for_org_or_404(CatalogSnapshot, org, public_id=public_id)


def entry_search(*, org, snapshot, q: str = "", platform: str = "", family: str = "",
                 availability: str = "", price_min=None, price_max=None, context_min=None,
                 context_max=None, sort: str = "model") -> QuerySet[CatalogEntry]:
    """Entries of one snapshot matching the filters. q searches model id, key and
    platform; price bounds apply to the input price per 1M tokens; one query per page."""
    qs = CatalogEntry.objects.for_org(org).filter(snapshot=snapshot)
    if q:
        qs = qs.filter(Q(model_id__icontains=q) | Q(key__icontains=q) | Q(platform__iexact=q))
    if platform:
        qs = qs.filter(platform=platform)
    if family:
        qs = qs.filter(families__contains=f"|{family}|")
    if availability:
        qs = qs.filter(availability=availability)
    if price_min is not None:
        qs = qs.filter(input_price__gte=price_min)
    if price_max is not None:
        qs = qs.filter(input_price__lte=price_max)
    if context_min is not None:
        qs = qs.filter(context_window__gte=context_min)
    if context_max is not None:
        qs = qs.filter(context_window__lte=context_max)
    return qs.order_by(*SORTS.get(sort, SORTS["model"]))


def platform_list(*, org, snapshot) -> list[str]:
    """The distinct platforms of a snapshot, for the filter (one query)."""
    return sorted(snapshot.counts.get("platform", {})) if snapshot else []


def entry_get(*, org, public_id) -> CatalogEntry:
    return get_for_org_or_404(CatalogEntry.objects.select_related("snapshot"), org,
                              public_id=public_id)


def model_history(*, org, entry) -> QuerySet[CatalogEntry]:
    """The same model (platform, model id, region) in every snapshot of org, oldest
    catalog first, with each snapshot (one query)."""
    return (
        CatalogEntry.objects.for_org(org)
        .filter(platform=entry.platform, model_id=entry.model_id, region=entry.region)
        .select_related("snapshot")
        .order_by("snapshot__snapshot_date", "snapshot__imported_at", "key")
    )


def import_job_list(*, org) -> QuerySet[ImportJob]:
    return ImportJob.objects.for_org(org).defer("payload").select_related("snapshot")


def import_job_get(*, org, public_id) -> ImportJob:
    return get_for_org_or_404(import_job_list(org=org), org, public_id=public_id)


# The review filter of the evidence list: the review states, and expired (past valid_until
# whatever its review, as the checklist judges it).
ITEM_STATES = ("pending", "accepted", "rejected", "expired")


def evidence_item_list(*, org, kind: str = "", state: str = "", today=None):
    """Org's evidence items, newest first, each annotated with is_superseded (a newer
    revision exists): one query. `state` is a review status or "expired"; a pending,
    accepted or rejected filter leaves out expired items."""
    today = today or timezone.localdate()
    newer = EvidenceItem.objects.filter(supersedes=OuterRef("pk"))
    qs = (EvidenceItem.objects.for_org(org).annotate(is_superseded=Exists(newer))
          .order_by("-collected_at", "-pk"))
    if kind:
        qs = qs.filter(kind=kind)
    live = Q(valid_until__isnull=True) | Q(valid_until__gte=today)
    if state == "expired":
        qs = qs.filter(valid_until__lt=today)
    elif state:
        qs = qs.filter(live, review_status=state)
    return qs
