"""Reads of the decision log (DecisionRecord), always narrowed to one org."""

from datetime import datetime

from django.db.models import QuerySet

from approvals.models import DecisionRecord
from projects.models import Caller


def decision_record_list(
    *, org, allowed: bool | None = None, row=None, model: str = "", reason: str = "",
    since: datetime | None = None, until: datetime | None = None,
) -> QuerySet[DecisionRecord]:
    """The org's recorded decisions, newest first. For anyone with audit:read (the view
    checks). `model` matches part of the model id, `reason` the reason code; `until` is
    exclusive."""
    qs = DecisionRecord.objects.for_org(org)
    if allowed is not None:
        qs = qs.filter(allowed=allowed)
    if row:
        qs = qs.filter(row_public_id=row)
    if model:
        qs = qs.filter(model__icontains=model)
    if reason:
        # Every decision carries one reason code; index 0 works on PostgreSQL and SQLite
        # alike (JSON `contains` does not exist on SQLite).
        qs = qs.filter(reasons__0=reason)
    if since:
        qs = qs.filter(decided_at__gte=since)
    if until:
        qs = qs.filter(decided_at__lt=until)
    return qs.order_by("-decided_at", "-pk")


def decision_records_with_callers(*, org, records) -> list[DecisionRecord]:
    """The records of one page, each with `.caller` set to its Caller (with its project)
    or None, in one query. Records keep plain ids (no foreign keys, so they outlive what
    they name): a caller deleted since shows as None."""
    records = list(records)
    ids = {r.caller_id for r in records if r.caller_id is not None}
    callers = (Caller.objects.for_org(org).filter(pk__in=ids).select_related("project")
               .in_bulk() if ids else {})
    for r in records:
        r.caller = callers.get(r.caller_id)
    return records
