import uuid

from django.db import models
from django.utils import timezone

from orgs.scoping import OrgScopedQuerySet


class WebhookEndpoint(models.Model):
    """A URL of the org's that receives signed event deliveries."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    url = models.URLField(max_length=500, help_text="HTTPS endpoint that accepts POSTed JSON.")
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(
        default=list, blank=True,
        help_text="Categories (e.g. 'key') or exact kinds (e.g. 'key.leaked'); empty: all.")
    secret_encrypted = models.TextField()
    # The previous secret keeps signing (as a second signature) until it expires, so a
    # receiver can switch secrets without dropping deliveries.
    previous_secret_encrypted = models.TextField(blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return self.url

    def wants(self, kind: str) -> bool:
        return not self.event_types or any(
            kind == t or kind.startswith(t + ".") for t in self.event_types)


class WebhookDelivery(models.Model):
    """One event to one endpoint. Unique per (endpoint, event): fan-out twice, deliver once."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Delivered"
        FAILED = "failed", "Failed"

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE,
                                 related_name="deliveries")
    event = models.ForeignKey("orgs.NotificationEvent", on_delete=models.PROTECT,
                              related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_latency_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["endpoint", "event"],
                                               name="webhook_delivery_once")]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self):
        return f"{self.event_id} -> {self.endpoint_id} ({self.status})"


class WebhookAttempt(models.Model):
    """The delivery log: one row per HTTP attempt."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT)
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE,
                                 related_name="attempt_log")
    attempted_at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=200, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-attempted_at"]

    def __str__(self):
        return f"{self.status_code or self.error}"

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
