from django.conf import settings
from django.db import models
from django.utils import timezone

from orgs.scoping import OrgScopedQuerySet


class Notification(models.Model):
    """One event for one person. Unique per (user, event): fan-out twice, notify once."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="notifications")
    event = models.ForeignKey("orgs.NotificationEvent", on_delete=models.PROTECT,
                              related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    # Set when the email is claimed for sending; None means no email is due or it failed.
    emailed_at = models.DateTimeField(null=True, blank=True)
    wants_email = models.BooleanField(default=False)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["user", "event"],
                                               name="notification_once_per_user")]
        indexes = [models.Index(fields=["org", "user", "read_at"])]

    def __str__(self):
        return f"{self.event_id} for {self.user_id}"


class NotificationPreference(models.Model):
    """A person's choice for one category in one org; no row means the defaults."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="+")
    category = models.CharField(max_length=32)
    in_app = models.BooleanField(default=True)
    email = models.BooleanField(default=False)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "user", "category"],
                                               name="notification_pref_unique")]

    def __str__(self):
        return f"{self.user_id}: {self.category}"
