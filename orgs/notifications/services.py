"""Notifications: who gets one for an event, preferences, reading, and the email.

notifications_for_event runs inside the fan-out's transaction (orgs/dispatch.py), right
after the event is claimed, and creates one row per recipient under a unique constraint;
notification_email_send claims its row with a conditional update before sending, so each
person gets each email once even if the task runs twice.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from orgs.models import Membership
from orgs.notifications.models import Notification, NotificationPreference
from orgs.notifications.recipients import CATEGORY_LABELS, ROLE_AUDIENCE, default_preference
from orgs.scoping import require_member


def notifications_for_event(*, org, event) -> list[int]:
    """Create the notifications of one claimed event; returns ids of those due an email.
    Recipients: members whose role is told about the event's category, plus the members
    named in payload["audience"] (user ids), less anyone who turned the category off."""
    category = event.kind.split(".", 1)[0]
    roles = ROLE_AUDIENCE.get(category, set())
    named = {int(u) for u in event.payload.get("audience", []) if str(u).isdigit()}
    members = Membership.objects.for_org(org).filter(role__in=roles) | \
        Membership.objects.for_org(org).filter(user_id__in=named)
    user_ids = set(members.values_list("user_id", flat=True))
    prefs = {p.user_id: p for p in NotificationPreference.objects.for_org(org).filter(
        category=category, user_id__in=user_ids)}
    rows = []
    for user_id in sorted(user_ids):
        pref = prefs.get(user_id)
        in_app, email = (pref.in_app, pref.email) if pref else \
            default_preference(category, event.severity, event.kind)
        if in_app or email:
            rows.append(Notification(org=org, user_id=user_id, event=event, wants_email=email,
                                     read_at=None if in_app else timezone.now()))
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return list(Notification.objects.for_org(org).filter(
        event=event, wants_email=True, emailed_at__isnull=True).values_list("pk", flat=True))


def notification_email_send(*, org, notification_id: int) -> bool:
    """Send one notification email, once: claimed with a conditional update first; a send
    that raises releases the claim so the task's retry can send it."""
    claimed = Notification.objects.for_org(org).filter(
        pk=notification_id, wants_email=True, emailed_at__isnull=True,
    ).update(emailed_at=timezone.now())
    if not claimed:
        return False
    notification = Notification.objects.for_org(org).select_related("event", "user", "org").get(
        pk=notification_id)
    context = {
        "notification": notification, "event": notification.event, "org": notification.org,
        "category": CATEGORY_LABELS.get(notification.event.category,
                                        notification.event.category),
        "url": settings.BASE_URL + reverse("notifications:notification_list", args=[org.slug]),
        "preferences_url": settings.BASE_URL + reverse("notifications:preferences",
                                                       args=[org.slug]),
    }
    try:
        send_mail(
            subject=f"[{org.name}] {notification.event.title} ({notification.event.kind})",
            message=render_to_string("orgs/email/notification.txt", context),
            html_message=render_to_string("orgs/email/notification.html", context),
            from_email=None, recipient_list=[notification.user.email],
        )
    except Exception:
        Notification.objects.for_org(org).filter(pk=notification_id).update(emailed_at=None)
        raise
    return True


def notification_mark_read(*, org, user, public_ids=None) -> int:
    """Mark the user's notifications read (all of them when public_ids is None)."""
    require_member(org, user)
    qs = Notification.objects.for_org(org).filter(user=user, read_at__isnull=True)
    if public_ids is not None:
        qs = qs.filter(event__public_id__in=public_ids)
    return qs.update(read_at=timezone.now())


@transaction.atomic
def notification_preferences_set(*, org, user, choices: dict[str, tuple[bool, bool]]):
    """Save the user's (in_app, email) per category. A person's own choice: not audited,
    as it changes nothing anybody else relies on."""
    require_member(org, user)
    unknown = set(choices) - set(CATEGORY_LABELS)
    if unknown:
        raise ValidationError({"category": f"Unknown categories: {', '.join(sorted(unknown))}"})
    for category, (in_app, email) in choices.items():
        NotificationPreference.objects.for_org(org).update_or_create(
            org=org, user=user, category=category,
            defaults={"in_app": in_app, "email": email})
