"""The weekly digest (approvals.digest, approvals.tasks): one email per member with what
is due, open and over budget, once per ISO week, none when there is nothing to say or
the member turned it off."""

from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from approvals.decisions.spend import spend_add
from approvals.digest import digest_content, digest_send, iso_week, weekly_digest
from approvals.findings import finding_raise
from approvals.models import DigestEmail, Finding, PolicyRow
from approvals.tasks import digest_send_task, weekly_digest_for_org_task, weekly_digest_task
from orgs.notifications.services import notification_preferences_set

pytestmark = pytest.mark.django_db
S = PolicyRow.Status


def monday(at_hour=7):
    today = timezone.localdate()
    day = today + timedelta(days=(7 - today.weekday()) % 7)
    return datetime.combine(day, time(at_hour), tzinfo=timezone.get_current_timezone())


@pytest.fixture
def busy_row(make_row, org_a, people):
    """An active row of the app owner renewing in 10 days, 90 % of its budget spent this
    month, and an open finding the app owner owns."""
    row = make_row(S.ACTIVE, renewal_date=timezone.localdate() + timedelta(days=10))
    spend_add(org=org_a, row=row, amount=Decimal("450.00"))
    finding_raise(org=org_a, kind=Finding.Kind.SPEND_THRESHOLD, dedupe_key="test:80",
                  title="Spend of the summarizer crossed 80 %", row=row,
                  owner=people["app_owner"])
    return row


def run(org, sent):
    """One weekly run whose sends run inline after commit."""
    return weekly_digest(org=org, send=lambda org_id, pk: sent.append(
        digest_send(org=org, digest_id=pk)))


def test_a_person_with_items_gets_what_is_due_open_and_over_budget(
        org_a, people, busy_row):
    content = digest_content(org=org_a, member=people["app_owner"])
    sections = {s["key"]: s["items"] for s in content["sections"]}
    assert list(sections) == ["due", "open", "over_budget"]
    [due] = sections["due"]
    assert due["label"] == "Renewal" and "renews by" in due["text"]
    assert due["url"].endswith(f"/o/acme/matrix/{busy_row.public_id}/")
    [finding] = sections["open"]
    assert finding["title"] == "Spend of the summarizer crossed 80 %"
    [budget] = sections["over_budget"]
    assert "spent 450.00 of 500.00 USD this month (90 %)" in budget["text"]
    assert content["counts"] == {"due": 1, "open": 1, "over_budget": 1}


def test_the_email_has_html_and_text_with_links_to_act(
        org_a, people, busy_row, mailoutbox, django_capture_on_commit_callbacks):
    sent = []
    with django_capture_on_commit_callbacks(execute=True):
        run(org_a, sent)
    [email] = [m for m in mailoutbox if m.to == ["app-owner@acme.test"]]
    assert email.subject.startswith("[Acme] Your week ")
    assert email.subject.endswith(": 1 due, 1 open, 1 over budget")
    url = f"http://127.0.0.1:8000/o/acme/matrix/{busy_row.public_id}/"
    assert "Spend of the summarizer crossed 80 %" in email.body and url in email.body
    [(html, mime)] = email.alternatives
    assert mime == "text/html" and f'href="{url}"' in html
    assert "/o/acme/notifications/preferences/" in email.body


def test_a_person_with_nothing_gets_no_digest(org_a, people, busy_row, mailoutbox,
                                             django_capture_on_commit_callbacks):
    assert digest_content(org=org_a, member=people["auditor"]) is None
    with django_capture_on_commit_callbacks(execute=True):
        result = run(org_a, [])
    assert not DigestEmail.objects.for_org(org_a).filter(member=people["auditor"]).exists()
    assert "auditor@acme.test" not in {m.to[0] for m in mailoutbox}
    assert result.nothing_to_say >= 1


def test_sent_once_per_week_under_two_runs_and_again_next_week(
        org_a, people, busy_row, mailoutbox, django_capture_on_commit_callbacks):
    def to_app_owner():
        return [m for m in mailoutbox if m.to == ["app-owner@acme.test"]]

    start = monday()
    with time_machine.travel(start, tick=False) as traveller:
        sent = []
        with django_capture_on_commit_callbacks(execute=True):
            run(org_a, sent)
        with django_capture_on_commit_callbacks(execute=True):
            again = run(org_a, sent)
        assert again.recorded == 0 and len(to_app_owner()) == 1
        assert DigestEmail.objects.for_org(org_a).get(
            member=people["app_owner"]).week == iso_week(start.date())
        traveller.move_to(start + timedelta(days=3))  # later the same ISO week
        with django_capture_on_commit_callbacks(execute=True):
            run(org_a, sent)
        assert len(to_app_owner()) == 1
        traveller.move_to(start + timedelta(days=7))
        with django_capture_on_commit_callbacks(execute=True):
            run(org_a, sent)
        assert len(to_app_owner()) == 2


def test_a_lost_send_is_requeued_and_a_sent_one_never_twice(org_a, people, busy_row,
                                                            mailoutbox):
    weekly_digest(org=org_a)  # recorded, but the send message was lost
    [digest] = DigestEmail.objects.for_org(org_a).filter(member=people["app_owner"])
    assert digest.sent_at is None and mailoutbox == []
    queued = []
    result = weekly_digest(org=org_a, send=lambda org_id, pk: queued.append(pk))
    assert digest.pk in queued and result.recorded == 0
    assert digest_send(org=org_a, digest_id=digest.pk) is True
    assert digest_send(org=org_a, digest_id=digest.pk) is False
    assert len([m for m in mailoutbox if m.to == ["app-owner@acme.test"]]) == 1


def test_a_failed_send_releases_its_claim_for_the_retry(org_a, people, busy_row,
                                                        monkeypatch, mailoutbox):
    weekly_digest(org=org_a)
    digest = DigestEmail.objects.for_org(org_a).get(member=people["app_owner"])

    def down(**kwargs):
        raise ConnectionError("mail server down")
    monkeypatch.setattr("approvals.digest.send_mail", down)
    with pytest.raises(ConnectionError):
        digest_send(org=org_a, digest_id=digest.pk)
    digest.refresh_from_db()
    assert digest.sent_at is None
    monkeypatch.undo()
    assert digest_send(org=org_a, digest_id=digest.pk) is True


def test_a_person_who_turned_the_digest_off_gets_none(org_a, people, busy_row):
    notification_preferences_set(org=org_a, user=people["app_owner"].user,
                                 choices={"digest": (True, False)})
    result = weekly_digest(org=org_a)
    assert result.opted_out == 1
    assert not DigestEmail.objects.for_org(org_a).filter(member=people["app_owner"]).exists()


def test_security_reads_every_open_finding(org_a, people, busy_row):
    content = digest_content(org=org_a, member=people["security"])
    [open_items] = [s["items"] for s in content["sections"] if s["key"] == "open"]
    assert [i["title"] for i in open_items] == ["Spend of the summarizer crossed 80 %"]


def test_the_weekly_task_fans_out_and_sends(org_a, org_b, people, busy_row, mailoutbox,
                                            django_capture_on_commit_callbacks, settings):
    with django_capture_on_commit_callbacks(execute=True):
        assert weekly_digest_task.delay().get() == 2  # eager: each org's task inline
    assert "app-owner@acme.test" in {m.to[0] for m in mailoutbox}
    assert not DigestEmail.objects.for_org(org_b).exists()
    assert weekly_digest_for_org_task.delay(10**9).get() == {}
    assert digest_send_task.delay(10**9, 1).get() is False
    schedule = settings.CELERY_BEAT_SCHEDULE["approvals.weekly_digest"]["schedule"]
    assert (schedule.day_of_week, schedule.hour, schedule.minute) == ({1}, {7}, {0})


def test_run_due_jobs_runs_the_digest(org_a, busy_row, capsys):
    call_command("run_due_jobs", only=["approvals.weekly_digest"])
    assert "approvals.weekly_digest: ok" in capsys.readouterr().out
    assert DigestEmail.objects.for_org(org_a).exists()


@pytest.mark.parametrize("task", [weekly_digest_task, weekly_digest_for_org_task,
                                  digest_send_task])
def test_tasks_ack_late_and_retry_a_few_times(task):
    assert task.acks_late is True and task.max_retries == 3
