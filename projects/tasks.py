"""Celery tasks of the projects app. Beat's schedule is settings.CELERY_BEAT_SCHEDULE."""

import logging

from celery import shared_task

from orgs.models import Organization
from orgs.task_helpers import RETRY, for_each_org
from projects.keys import key_expire_due, key_remind_expiring

logger = logging.getLogger(__name__)



@shared_task(name="projects.report_expired_keys", ignore_result=True, **RETRY)
def report_expired_keys_task() -> int:
    """Beat fan-out (every 5 minutes): one report_expired_keys_for_org per org. An expired
    key already fails resolution on its own; this only audits and announces it."""
    return for_each_org(report_expired_keys_for_org_task)


@shared_task(name="projects.report_expired_keys_for_org", **RETRY)
def report_expired_keys_for_org_task(org_id: int) -> int:
    """Audit key.expired and emit it for one org's newly expired keys (key_expire_due).
    Safe to run twice: each key is claimed with a conditional update."""
    org = Organization.objects.filter(pk=org_id).first()
    if org is None:
        return 0
    count = key_expire_due(org=org)
    if count:
        logger.info("Reported %d expired key(s) in org %s", count, org.slug)
    return count


@shared_task(name="projects.remind_expiring_keys", ignore_result=True, **RETRY)
def remind_expiring_keys_task() -> int:
    """Beat fan-out (hourly): one remind_expiring_keys_for_org per org."""
    return for_each_org(remind_expiring_keys_for_org_task)


@shared_task(name="projects.remind_expiring_keys_for_org", **RETRY)
def remind_expiring_keys_for_org_task(org_id: int) -> int:
    """Send one org's due key expiry reminders (14, 7 and 1 days before); each once."""
    org = Organization.objects.filter(pk=org_id).first()
    return key_remind_expiring(org=org) if org else 0
