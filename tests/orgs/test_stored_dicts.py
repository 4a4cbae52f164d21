"""Issue 12.7: stored dicts (audit changes, notification payloads, import reports) render
whatever their keys. A template's `d.items` finds the key "items" before the method, so
the audit and notification pages crashed once an evidence pack had been built (its
events carry an "items" count)."""

import re
from pathlib import Path

import pytest
from django.core import mail
from django.db import transaction
from django.template import Context, Template

from orgs.audit import record_event
from orgs.dispatch import event_fan_out
from orgs.events import event_emit
from orgs.notifications import services
from orgs.notifications.models import Notification
from tests.conftest import login

pytestmark = pytest.mark.django_db
TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
# What approvals.packs.build records when a pack is built.
CHANGES = {"sha256": [None, "ab12"], "items": [None, 7], "problems": [None, 0]}
PAYLOAD = {"pack": "p-1", "sha256": "ab12", "items": 7, "keys": 2, "values": 3}


def test_the_audit_page_renders_an_event_whose_changes_have_an_items_key(client, owner,
                                                                        org_a):
    with transaction.atomic():
        record_event(org=org_a, actor=None, action="approval.pack_built", obj=org_a,
                     changes=CHANGES)
    login(client, owner)
    response = client.get("/o/acme/audit/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "approval.pack_built" in html
    assert "items:</span>" in html and "sha256:</span>" in html


def test_the_notification_page_and_email_render_a_payload_with_an_items_key(client, owner,
                                                                          org_a):
    with transaction.atomic():
        # The pack's owners hear of it (its audience); critical, so it emails too.
        event_emit(org=org_a, kind="evidence.pack_built", severity="critical",
                   payload={**PAYLOAD, "audience": [owner.user_id]})
    result = event_fan_out(org=org_a)
    assert Notification.objects.for_org(org_a).filter(user=owner.user).exists()
    login(client, owner)
    response = client.get("/o/acme/notifications/")
    assert response.status_code == 200
    assert "items: 7" in response.content.decode()
    for notification_id in result.emails:
        services.notification_email_send(org=org_a, notification_id=notification_id)
    assert mail.outbox and all("items: 7" in m.body for m in mail.outbox)
    assert all("<th" in m.alternatives[0][0] and ">items</th>" in m.alternatives[0][0]
               for m in mail.outbox)


@pytest.mark.parametrize("value,expected", [
    ({"items": 1, "keys": 2}, "items=1;keys=2;"),
    ({}, ""), (None, ""), ("not a dict", ""), ([["a", 1]], ""),
])
def test_the_pairs_filter_lists_any_stored_dict_and_nothing_else(value, expected):
    template = Template("{% load stored %}{% for k, v in d|pairs %}{{ k }}={{ v }};{% endfor %}")
    assert template.render(Context({"d": value})) == expected


# `.items` that are meant: form error dicts (keys are field names), the checklist's and
# the digest section's item lists, a pack part's "items" key, and the code's own labels.
MEANT_ITEMS = re.compile(
    r"(\w+\.)?errors\.items|checklist\.items|section\.items|\br\.items|\blabels\.items")
FOR_ITEMS = re.compile(r"{%\s*for [^%]* in ([\w.]+\.items)\s*%}")


def unsafe_items(text: str) -> list[str]:
    return [m for m in FOR_ITEMS.findall(text) if not MEANT_ITEMS.fullmatch(m)]


def test_no_template_lists_a_stored_dict_with_dot_items():
    found = {str(path.relative_to(TEMPLATES)): unsafe_items(path.read_text())
             for path in TEMPLATES.rglob("*.*")}
    assert {path: hits for path, hits in found.items() if hits} == {}


def test_the_template_check_finds_a_planted_dot_items():
    planted = "{% for k, v in event.payload.items %}{{ k }}{% endfor %}"
    assert unsafe_items(planted) == ["event.payload.items"]
    assert unsafe_items("{% for k, v in event.payload|pairs %}{% endfor %}") == []
