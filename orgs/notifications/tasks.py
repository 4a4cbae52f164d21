from celery import shared_task
from django.db import OperationalError

from orgs.models import Organization
from orgs.notifications.services import notification_email_send


@shared_task(name="orgs.notification_email", ignore_result=True, acks_late=True,
             autoretry_for=(OperationalError, OSError), retry_backoff=True, max_retries=5)
def notification_email_task(org_id: int, notification_id: int) -> bool:
    """Send one notification email (claimed first, so a second run sends nothing)."""
    org = Organization.objects.filter(pk=org_id).first()
    return notification_email_send(org=org, notification_id=notification_id) if org else False
