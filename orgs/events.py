"""Notification events: what happened that somebody may need to hear about.

Apps call event_emit() inside the same transaction as the change (and its audit event);
the row is an outbox that the jobs issue (#8) delivers to email and signed webhooks. The
audit log answers "who changed what"; events answer "who must be told".
"""

import logging
import re
import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone

from orgs.scoping import OrgScopedQuerySet

logger = logging.getLogger(__name__)

KIND = re.compile(r"^[a-z][a-z_]*(\.[a-z][a-z_]*)+$")
# Topics subscribers can pick from (webhooks and notification settings, issue #8).
# Payload keys that name an event's subject, in the order a title prefers them.
TITLE_NAMES = ("name", "finding", "rule", "source_name", "email", "url", "project")
CATEGORIES = ("member", "security", "key", "usage", "billing", "approval", "catalog", "finding",
              "evidence")
# The offer, one source for the webhook form and the API: per category (and "webhook"),
# each kind subscribers are promised and the words that promise it. Every kind here is
# emitted by its service (tests/test_offered_events.py triggers each one); what no service
# emits is not offered. (Failed sign-ins stay in the audit log only: an event per failed
# attempt would let anyone who knows an address flood its orgs' security inboxes.)
OFFERED: dict[str, dict[str, str]] = {
    "member": {"member.joined": "members joining", "member.left": "leaving",
               "member.removed": "removed", "member.role_changed": "role changes"},
    "security": {"security.policy_changed": "security policy changes"},
    "key": {"key.created": "team API keys created", "key.rotated": "rotated",
            "key.revoked": "revoked", "key.leaked": "leaked", "key.expired": "expired"},
    "usage": {"usage.imported": "usage imports",
              "usage.threshold_crossed": "budget thresholds crossed"},
    "billing": {"billing.imported": "billing imports"},
    "approval": {"approval.submitted": "approval transitions", "approval.signed": "sign-offs",
                 "approval.renewal_due": "renewals due", "approval.expired": "expiries"},
    "catalog": {"catalog.imported": "catalog imports"},
    "finding": {"finding.raised": "findings raised: reconciliation, catalog changes, "
                                  "expired evidence"},
    "evidence": {"evidence.collected": "evidence collected", "evidence.accepted": "reviewed",
                 "evidence.expiring": "expiring",
                 "evidence.expired": "expired", "evidence.pack_built": "evidence packs built"},
    "webhook": {"webhook.disabled": "endpoints disabled after failures",
                "webhook.test": "test events"},
}


class NotificationEvent(models.Model):
    class Severity(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        CRITICAL = "critical", "Critical"

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=64, help_text="e.g. key.leaked, security.login_failed")
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.INFO)
    subject_type = models.CharField(max_length=64, blank=True)
    subject_id = models.CharField(max_length=64, blank=True)
    payload = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(default=timezone.now)
    dispatched_at = models.DateTimeField(null=True, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["org", "kind", "created_at"]),
                   models.Index(fields=["dispatched_at"])]

    def __str__(self):
        return f"{self.kind} ({self.org_id})"

    @property
    def category(self) -> str:
        return self.kind.split(".", 1)[0]

    @property
    def title(self) -> str:
        """A readable line for people: "Approval renewal reminder: support-api production",
        from the kind and the first name the payload gives."""
        category, _, verb = self.kind.partition(".")
        text = f"{category.capitalize()} {verb.replace('_', ' ')}".strip()
        name = next((value for key in TITLE_NAMES
                     if isinstance(value := self.payload.get(key), str) and value), "")
        return f"{text}: {name}"[:150] if name else text


def event_emit(*, org, kind: str, subject=None, payload: dict | None = None,
               severity: str = NotificationEvent.Severity.INFO) -> NotificationEvent:
    """Record a notification event for org. Call inside the service's transaction, so the
    event exists exactly when the change does. Never put secrets in the payload."""
    if not KIND.match(kind):
        raise ValueError(f"Event kind {kind!r} must look like 'noun.verb'")
    if not connection.in_atomic_block:
        raise RuntimeError("event_emit must run inside the service's transaction")
    subject_type = subject._meta.model_name if subject is not None else ""
    subject_id = str(getattr(subject, "public_id", None) or getattr(subject, "pk", "")) \
        if subject is not None else ""
    event = NotificationEvent.objects.create(
        org=org, kind=kind, severity=severity, subject_type=subject_type,
        subject_id=subject_id, payload=payload or {},
    )
    transaction.on_commit(lambda: _dispatch_soon(org.pk))
    return event


def _dispatch_soon(org_id: int):
    """Ask a worker to fan the new event out now (webhooks, notifications). If the broker
    is down the change has still happened; the once-a-minute sweep dispatches it later."""
    from orgs.tasks import events_fan_out_task

    try:
        events_fan_out_task.delay(org_id)
    except Exception:  # the broker being down must not fail a committed request
        logger.warning("Could not queue the event fan-out for org %s; the sweep will", org_id,
                       exc_info=True)
