"""Exactly-once reminders: one per (subject, kind, period), whoever runs the scan.

A scan calls reminder_send() inside its transaction. The Reminder row is unique, so the
first run to get there records it together with its notification event (the outbox that
notifications and webhooks deliver from); a second run, a duplicate beat tick or a
redelivered task finds the row and sends nothing. Delivery of the event is a separate,
retried step (orgs/dispatch.py).
"""

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from orgs.events import NotificationEvent, event_emit
from orgs.scoping import OrgScopedQuerySet


class Reminder(models.Model):
    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT)
    subject_type = models.CharField(max_length=64)
    subject_id = models.CharField(max_length=64)
    kind = models.CharField(max_length=64, help_text="e.g. key.expiring")
    period = models.CharField(max_length=32, help_text="e.g. '7d' before, or '2026-11'")
    created_at = models.DateTimeField(default=timezone.now)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["org", "subject_type", "subject_id", "kind", "period"],
            name="reminder_once")]

    def __str__(self):
        return f"{self.kind} {self.period} for {self.subject_type} {self.subject_id}"


def reminder_send(*, org, subject, kind: str, period: str, payload: dict,
                  severity: str = NotificationEvent.Severity.INFO) -> bool:
    """Record the reminder and emit its event, once per (subject, kind, period). Returns
    False when it was already sent. Call inside the scan's transaction."""
    subject_id = str(getattr(subject, "public_id", None) or subject.pk)
    try:
        with transaction.atomic():  # a savepoint: a duplicate must not spoil the caller's
            Reminder.objects.create(org=org, subject_type=subject._meta.model_name,
                                    subject_id=subject_id, kind=kind, period=period)
    except IntegrityError:
        return False
    event_emit(org=org, kind=kind, subject=subject, severity=severity,
               payload={**payload, "period": period})
    return True
