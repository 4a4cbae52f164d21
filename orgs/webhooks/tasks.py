"""Webhook delivery: one attempt per task. The fan-out and the sweep that retries due
deliveries live in orgs/tasks.py (they serve notifications too)."""

from celery import shared_task

from orgs.models import Organization
from orgs.task_helpers import RETRY
from orgs.webhooks.services import delivery_attempt


@shared_task(name="orgs.webhook_deliver", ignore_result=True, **RETRY)
def webhook_deliver_task(org_id: int, delivery_id: int) -> str | None:
    """One attempt at one delivery; a no-op if it is not due or another worker has it."""
    org = Organization.objects.filter(pk=org_id).first()
    return delivery_attempt(org=org, delivery_id=delivery_id) if org else None
