"""The outbox fan-out: each notification event becomes webhook deliveries and
notifications exactly once.

An event is claimed with a conditional update of dispatched_at, in the same transaction
that creates its deliveries (unique per endpoint and event) and notifications (unique per
user and event): a second run, on this worker or another, finds nothing left to claim.
"""

from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from orgs.events import NotificationEvent
from orgs.notifications.services import notifications_for_event
from orgs.webhooks.models import WebhookEndpoint
from orgs.webhooks.services import webhook_deliveries_for

BATCH = 500


@dataclass
class FanOut:
    deliveries: list[int] = field(default_factory=list)
    emails: list[int] = field(default_factory=list)


@transaction.atomic
def event_fan_out(*, org) -> FanOut:
    """Dispatch up to BATCH of org's undispatched events. Returns the webhook deliveries and
    notification emails to queue (after commit) for their first attempt."""
    endpoints = list(WebhookEndpoint.objects.for_org(org).filter(enabled=True))
    pending = list(NotificationEvent.objects.for_org(org).filter(dispatched_at__isnull=True)
                   .order_by("pk")[:BATCH])
    result = FanOut()
    for event in pending:
        claimed = NotificationEvent.objects.for_org(org).filter(
            pk=event.pk, dispatched_at__isnull=True).update(dispatched_at=timezone.now())
        if not claimed:
            continue
        result.deliveries += webhook_deliveries_for(org=org, endpoints=endpoints, event=event)
        result.emails += notifications_for_event(org=org, event=event)
    return result
