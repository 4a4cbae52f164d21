from django.db.models import Count, Q, QuerySet

from orgs.scoping import get_for_org_or_404
from orgs.webhooks.models import WebhookDelivery, WebhookEndpoint


def endpoint_list(*, org) -> QuerySet[WebhookEndpoint]:
    """Org's endpoints with their delivery counts by outcome (one query)."""
    return WebhookEndpoint.objects.for_org(org).annotate(
        delivered=Count("deliveries", filter=Q(deliveries__status="succeeded")),
        failed=Count("deliveries", filter=Q(deliveries__status="failed")),
        pending=Count("deliveries", filter=Q(deliveries__status="pending")),
    ).order_by("created_at")


def endpoint_get(*, org, public_id) -> WebhookEndpoint:
    return get_for_org_or_404(WebhookEndpoint, org, public_id=public_id)


def delivery_list(*, org, endpoint, limit: int = 50) -> QuerySet[WebhookDelivery]:
    """The endpoint's latest deliveries with their event and attempt log (3 queries)."""
    return (WebhookDelivery.objects.for_org(org).filter(endpoint=endpoint)
            .select_related("event").prefetch_related("attempt_log")
            .order_by("-created_at")[:limit])


def delivery_get(*, org, endpoint, public_id) -> WebhookDelivery:
    return get_for_org_or_404(
        WebhookDelivery.objects.filter(endpoint=endpoint).select_related("event", "endpoint"),
        org, public_id=public_id)
