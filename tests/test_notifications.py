"""Notifications: recipients by role and audience, preferences, exactly-once emails, pages."""

import pytest
from django.core import mail
from django.db import transaction

from orgs.dispatch import event_fan_out
from orgs.events import event_emit
from orgs.notifications import services
from orgs.notifications.models import Notification
from tests.conftest import ROLES, login

pytestmark = pytest.mark.django_db


def emit(org, kind, severity="info", **payload):
    with transaction.atomic():
        return event_emit(org=org, kind=kind, severity=severity, payload=payload)


def recipients(org):
    return set(Notification.objects.for_org(org).values_list("user__email", flat=True))


def test_key_events_reach_security_and_email_once(personas, org_a):
    emit(org_a, "key.revoked", name="support-api production", reason="rotated")
    result = event_fan_out(org=org_a)
    assert recipients(org_a) == {"security@acme.test"}
    [notification_id] = result.emails
    assert services.notification_email_send(org=org_a, notification_id=notification_id)
    assert not services.notification_email_send(org=org_a, notification_id=notification_id)
    [message] = mail.outbox
    assert message.to == ["security@acme.test"]
    assert message.subject == "[Acme] Key revoked: support-api production (key.revoked)"
    assert "reason: rotated" in message.body
    html = message.alternatives[0][0]
    assert "Key revoked: support-api production" in html and "key.revoked</code>" in html


def test_fan_out_twice_notifies_once(personas, org_a):
    emit(org_a, "member.role_changed", member="x")
    event_fan_out(org=org_a)
    event_fan_out(org=org_a)
    assert Notification.objects.for_org(org_a).count() == 2  # owner and admin


def test_events_name_extra_people_through_the_audience(personas, org_a):
    emit(org_a, "key.expired", audience=[personas["member"].user.pk])
    event_fan_out(org=org_a)
    assert recipients(org_a) == {"security@acme.test", "member@acme.test"}


def test_member_events_are_in_app_only_unless_critical(personas, org_a):
    emit(org_a, "member.role_changed")
    assert event_fan_out(org=org_a).emails == []
    emit(org_a, "member.removed", severity="critical")
    assert len(event_fan_out(org=org_a).emails) == 2


def test_preferences_turn_email_or_everything_off(personas, org_a):
    security = personas["security"]
    services.notification_preferences_set(org=org_a, user=security.user,
                                          choices={"key": (True, False)})
    emit(org_a, "key.created")
    assert event_fan_out(org=org_a).emails == []
    services.notification_preferences_set(org=org_a, user=security.user,
                                          choices={"key": (False, False)})
    emit(org_a, "key.rotated")
    event_fan_out(org=org_a)
    kinds = list(Notification.objects.for_org(org_a).values_list("event__kind", flat=True))
    assert kinds == ["key.created"]


def test_failed_send_releases_the_claim(personas, org_a, monkeypatch):
    emit(org_a, "key.leaked", severity="critical")
    [notification_id] = event_fan_out(org=org_a).emails

    def broken(*args, **kwargs):
        raise OSError("SMTP down")

    monkeypatch.setattr("orgs.notifications.services.send_mail", broken)
    with pytest.raises(OSError):
        services.notification_email_send(org=org_a, notification_id=notification_id)
    assert Notification.objects.get(pk=notification_id).emailed_at is None


@pytest.mark.parametrize("role", ROLES)
def test_every_member_has_a_notification_centre(client, personas, role):
    login(client, personas[role])
    assert client.get("/o/acme/notifications/").status_code == 200
    assert client.get("/o/acme/notifications/preferences/").status_code == 200


def test_outsider_gets_404(client, outsider, personas):
    login(client, outsider)
    assert client.get("/o/acme/notifications/").status_code == 404


def test_centre_lists_and_marks_read(client, personas, org_a):
    emit(org_a, "key.revoked", key="gvk_test_abc")
    emit(org_a, "key.created", key="gvk_test_def")
    event_fan_out(org=org_a)
    login(client, personas["security"])
    page = client.get("/o/acme/notifications/").content.decode()
    assert "key.revoked" in page and "key.created" in page
    first = Notification.objects.for_org(org_a).order_by("pk").first()
    client.post("/o/acme/notifications/read/", {"event": str(first.event.public_id)})
    assert Notification.objects.for_org(org_a).filter(read_at__isnull=True).count() == 1
    client.post("/o/acme/notifications/read/")
    assert not Notification.objects.for_org(org_a).filter(read_at__isnull=True).exists()


def test_preferences_page_saves(client, personas, org_a):
    login(client, personas["finance"])
    client.post("/o/acme/notifications/preferences/", {"billing:in_app": "on",
                                                        "usage:email": "on"})
    emit(org_a, "usage.threshold_crossed", threshold=80)
    assert len(event_fan_out(org=org_a).emails) == 1


@pytest.mark.parametrize("rows", [3, 60])
def test_centre_keeps_constant_queries(client, personas, org_a, rows, django_assert_num_queries):
    for i in range(rows):
        emit(org_a, "key.created", n=i)
    event_fan_out(org=org_a)
    login(client, personas["security"])
    # session, user, membership+org, count, page of notifications+events, org switcher
    with django_assert_num_queries(6):
        assert client.get("/o/acme/notifications/").status_code == 200


def test_navbar_shows_unread_count_without_an_extra_query(client, personas, org_a):
    emit(org_a, "key.revoked")
    emit(org_a, "key.created")
    event_fan_out(org=org_a)
    login(client, personas["security"])
    page = client.get("/o/acme/").content.decode()
    assert 'data-testid="unread-count">2<' in page
    login(client, personas["member"])
    assert 'data-testid="unread-count"' not in client.get("/o/acme/").content.decode()
