"""Celery tasks of the orgs app. Beat's schedule is settings.CELERY_BEAT_SCHEDULE.

Tasks are thin: the beat task fans out one task per org, and that task calls a service
that does the org's work in one transaction, with its audit events. Every task here is
safe to run twice (acks_late means a task whose worker died is delivered again).
"""

import logging

from celery import shared_task
from django.db import OperationalError

from orgs.models import Organization
from orgs.services import invitation_expire_stale

logger = logging.getLogger(__name__)

# Every task here: acks_late (a task whose worker died is delivered again, so each is
# safe to run twice) and bounded retries on database hiccups. The queue is
# settings.CELERY_TASK_DEFAULT_QUEUE ("default"): Celery 5.5+ deprecates a `queue`
# attribute on the task in favour of the task_routes setting.
RETRY = {
    "acks_late": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
    "retry_backoff_max": 300,
    "max_retries": 3,
}


@shared_task(name="orgs.expire_stale_credentials", ignore_result=True, **RETRY)
def expire_stale_credentials_task() -> int:
    """Beat fan-out (every 5 minutes): one expire_stale_credentials_for_org per org.

    Only invitations need a sweep: a personal token past expires_at is refused when it is
    used (PersonalToken.is_active) and its row stays for the audit trail. Returns how
    many org tasks it sent.
    """
    # Beat fan-out: the one place that walks every organization.
    org_ids = list(Organization.objects.order_by("pk").values_list("pk", flat=True))
    for org_id in org_ids:
        expire_stale_credentials_for_org_task.delay(org_id)
    return len(org_ids)


@shared_task(name="orgs.expire_stale_credentials_for_org", **RETRY)
def expire_stale_credentials_for_org_task(org_id: int) -> int:
    """Revoke one org's long-expired open invitations (invitation_expire_stale).

    Returns how many it revoked; 0 when the org is gone.
    """
    org = Organization.objects.filter(pk=org_id).first()
    if org is None:
        return 0
    count = invitation_expire_stale(org=org)
    if count:
        logger.info("Revoked %d stale invitation(s) in org %s", count, org.slug)
    return count
