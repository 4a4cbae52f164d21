"""Reads of usage imports and records; every queryset is narrowed to one org."""

from django.db.models import QuerySet

from evidence.models import UsageImport, UsageRecord
from orgs.scoping import get_for_org_or_404


def usage_import_list(*, org) -> QuerySet[UsageImport]:
    """Org's imports, newest first, without their payload (one query)."""
    return (UsageImport.objects.for_org(org).defer("payload")
            .select_related("created_by__user").order_by("-created_at"))


def usage_import_get(*, org, public_id) -> UsageImport:
    return get_for_org_or_404(UsageImport.objects.defer("payload"), org, public_id=public_id)


def usage_record_list(*, org, project=None, model: str = "", source: str = "",
                      import_job=None) -> QuerySet[UsageRecord]:
    """Org's usage lines, newest first, with what they resolved to (one query per page)."""
    qs = UsageRecord.objects.for_org(org).select_related(
        "project", "environment", "caller", "api_key")
    if project is not None:
        qs = qs.filter(project=project)
    if model:
        qs = qs.filter(model__icontains=model)
    if source:
        qs = qs.filter(source=source)
    if import_job is not None:
        qs = qs.filter(import_job=import_job)
    return qs.order_by("-occurred_at", "-pk")
