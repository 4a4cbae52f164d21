from django.db.models import QuerySet

from orgs.notifications.models import Notification, NotificationPreference
from orgs.notifications.recipients import CATEGORY_LABELS, default_preference


def notification_list(*, org, user) -> QuerySet[Notification]:
    """The user's notifications in org, newest first, with their events (one query)."""
    return (Notification.objects.for_org(org).filter(user=user)
            .select_related("event").order_by("-created_at"))


def unread_count(*, org, user) -> int:
    return Notification.objects.for_org(org).filter(user=user, read_at__isnull=True).count()


def preference_table(*, org, user) -> list[dict]:
    """Every category with the user's (in_app, email), defaults where never chosen."""
    saved = {p.category: p for p in NotificationPreference.objects.for_org(org).filter(
        user=user)}
    rows = []
    for category, label in CATEGORY_LABELS.items():
        in_app, email = (saved[category].in_app, saved[category].email) if category in saved \
            else default_preference(category, "info")
        rows.append({"category": category, "label": label, "in_app": in_app, "email": email})
    return rows
