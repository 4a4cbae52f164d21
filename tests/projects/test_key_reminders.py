"""Key expiry reminders: 14, 7 and 1 days before, each exactly once per key and mark."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from orgs.dispatch import event_fan_out
from orgs.events import NotificationEvent
from orgs.notifications.models import Notification
from orgs.reminders import Reminder, reminder_send
from projects.keys import key_remind_expiring, key_revoke
from tests.projects.conftest import make_key

pytestmark = pytest.mark.django_db


def reminders(org):
    return list(NotificationEvent.objects.for_org(org).filter(kind="key.expiring")
                .order_by("pk").values_list("payload__period", flat=True))


@pytest.fixture
def key(org_a, owner, envs, caller_a):
    key, _secret = make_key(org_a, owner, envs["production"], caller_a, expires_in_days=20)
    return key


def test_each_mark_is_sent_once_on_the_right_day(org_a, key):
    start = key.expires_at - timedelta(days=20)
    assert key_remind_expiring(org=org_a, now=start) == 0            # 20 days left
    assert key_remind_expiring(org=org_a, now=start + timedelta(days=7)) == 1   # 13 left
    assert key_remind_expiring(org=org_a, now=start + timedelta(days=7)) == 0   # again
    assert key_remind_expiring(org=org_a, now=start + timedelta(days=10)) == 0  # 10 left
    assert key_remind_expiring(org=org_a, now=start + timedelta(days=14)) == 1  # 6 left
    assert key_remind_expiring(org=org_a, now=start + timedelta(days=19, hours=12)) == 1
    assert key_remind_expiring(org=org_a, now=key.expires_at + timedelta(hours=1)) == 0
    assert reminders(org_a) == ["14d", "7d", "1d"]


def test_a_short_lived_key_gets_only_the_nearest_mark(org_a, owner, envs, caller_a):
    key, _ = make_key(org_a, owner, envs["development"], caller_a, expires_in_days=5)
    key_remind_expiring(org=org_a, now=timezone.now())
    assert reminders(org_a) == ["7d"]


def test_revoked_keys_get_no_reminder(org_a, owner, key):
    key_revoke(org=org_a, actor=owner, key=key, reason="not needed")
    assert key_remind_expiring(org=org_a, now=key.expires_at - timedelta(days=3)) == 0


def test_reminder_reaches_the_creator_and_security(org_a, personas, key):
    key_remind_expiring(org=org_a, now=key.expires_at - timedelta(days=3))
    event_fan_out(org=org_a)
    told = set(Notification.objects.for_org(org_a).filter(event__kind="key.expiring")
               .values_list("user__email", flat=True))
    assert told == {"owner@acme.test", "security@acme.test"}


def test_reminder_send_is_once_per_subject_kind_and_period(org_a, key):
    with transaction.atomic():
        assert reminder_send(org=org_a, subject=key, kind="key.expiring", period="7d",
                             payload={})
        assert not reminder_send(org=org_a, subject=key, kind="key.expiring", period="7d",
                                 payload={})
        assert reminder_send(org=org_a, subject=key, kind="key.expiring", period="1d",
                             payload={})
    assert Reminder.objects.for_org(org_a).count() == 2
