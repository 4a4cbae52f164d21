"""Celery tasks of the orgs app. Beat's schedule is settings.CELERY_BEAT_SCHEDULE.

Tasks are thin: the beat task fans out one task per org, and that task calls a service
that does the org's work in one transaction, with its audit events. Every task here is
safe to run twice (acks_late means a task whose worker died is delivered again).
"""

import logging

from celery import shared_task
from django.db import transaction

from orgs.audit import ChainBroken, CheckpointsOff, audit_checkpoint_create
from orgs.dispatch import event_fan_out
from orgs.events import NotificationEvent, event_emit
from orgs.jobs import recorded
from orgs.models import Organization
from orgs.notifications.tasks import notification_email_task
from orgs.services import invitation_expire_stale
from orgs.sso.tasks import domain_recheck_task, domains_recheck_task  # noqa: F401  registers them
from orgs.task_helpers import RETRY, for_each_org
from orgs.webhooks.models import WebhookDelivery
from orgs.webhooks.services import due_deliveries
from orgs.webhooks.tasks import webhook_deliver_task

logger = logging.getLogger(__name__)

# Every task: RETRY (acks_late, bounded retries on database hiccups). The queue is
# settings.CELERY_TASK_DEFAULT_QUEUE ("default"): Celery 5.5+ deprecates a `queue`
# attribute on the task in favour of the task_routes setting.


@shared_task(name="orgs.expire_stale_credentials", ignore_result=True, **RETRY)
@recorded("orgs.expire_stale_credentials")
def expire_stale_credentials_task() -> int:
    """Beat fan-out (every 5 minutes): one expire_stale_credentials_for_org per org.

    Only invitations need a sweep: a personal token past expires_at is refused when it is
    used (PersonalToken.is_active) and its row stays for the audit trail. Returns how
    many org tasks it sent.
    """
    return for_each_org(expire_stale_credentials_for_org_task)


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


@shared_task(name="orgs.events_fan_out", ignore_result=True, **RETRY)
def events_fan_out_task(org_id: int) -> int:
    """Turn org's new notification events into webhook deliveries and notifications
    (orgs/dispatch.py), then queue the first delivery attempts and emails."""
    org = Organization.objects.filter(pk=org_id).first()
    if org is None:
        return 0
    result = event_fan_out(org=org)
    for delivery_id in result.deliveries:
        webhook_deliver_task.delay(org_id, delivery_id)
    for notification_id in result.emails:
        notification_email_task.delay(org_id, notification_id)
    return len(result.deliveries) + len(result.emails)


@shared_task(name="orgs.events_sweep", ignore_result=True, **RETRY)
@recorded("orgs.events_sweep")
def events_sweep_task() -> int:
    """Beat (every minute): dispatch events a lost message left behind, and retry webhook
    deliveries whose backoff has passed or whose worker died (expired lease)."""
    # Beat fan-out: the one place that walks every organization.
    org_ids = set(NotificationEvent.objects.all_orgs().filter(dispatched_at__isnull=True)
                  .values_list("org_id", flat=True).distinct())
    org_ids |= set(WebhookDelivery.objects.all_orgs().filter(
        status=WebhookDelivery.Status.PENDING).values_list("org_id", flat=True).distinct())
    queued = 0
    for org in Organization.objects.filter(pk__in=org_ids):
        events_fan_out_task.delay(org.pk)
        for delivery_id in due_deliveries(org=org):
            webhook_deliver_task.delay(org.pk, delivery_id)
            queued += 1
    return queued


@shared_task(name="orgs.audit_checkpoint", ignore_result=True, **RETRY)
@recorded("orgs.audit_checkpoint")
def audit_checkpoint_task() -> int:
    """Beat fan-out (every 15 minutes): one audit_checkpoint_for_org per org. Returns how
    many org tasks it sent."""
    return for_each_org(audit_checkpoint_for_org_task)


@shared_task(name="orgs.audit_checkpoint_for_org", **RETRY)
def audit_checkpoint_for_org_task(org_id: int) -> int | None:
    """Sign one org's audit chain head (audit_checkpoint_create); safe to run twice (an
    unchanged head is not signed again). Returns the signed seq, or None. Without a
    signing key it logs a warning; a chain that no longer extends its last checkpoint is
    logged as an error and raises a critical security.audit_chain_broken event (once per
    problem, not every 15 minutes) in its own transaction (nothing was signed)."""
    org = Organization.objects.filter(pk=org_id).first()
    if org is None:
        return None
    try:
        checkpoint = audit_checkpoint_create(org=org)
    except CheckpointsOff:
        logger.warning("Audit checkpoints are off: AUDIT_SIGNING_KEY is not set")
        return None
    except ChainBroken as exc:
        logger.error("Audit chain of org %s not signed: %s", org.slug, exc)
        _audit_chain_alarm(org, str(exc))
        return None
    return checkpoint.seq if checkpoint else None


@transaction.atomic
def _audit_chain_alarm(org, problem: str) -> None:
    # The same break is found every 15 minutes until somebody acts: tell people once.
    seen = NotificationEvent.objects.for_org(org).filter(
        kind="security.audit_chain_broken", payload__problem=problem)
    if not seen.exists():
        event_emit(org=org, kind="security.audit_chain_broken", payload={"problem": problem},
                   severity=NotificationEvent.Severity.CRITICAL)
