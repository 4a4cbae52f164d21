"""Verified email domains proven over real DNS (issue 12.1): a dnsmasq on 127.0.0.1
(tests/dns_components.py) serves the TXT records, dnspython queries it. The owner's
"confirm as owner" shortcut is gone; the operator's pre-verified list replaces it; the
scheduled recheck un-verifies a domain whose record disappeared."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from orgs.audit import AuditEvent
from orgs.events import NotificationEvent
from orgs.notifications.models import Notification
from orgs.roles import Role
from orgs.sso import services as sso
from orgs.sso.models import VerifiedDomain
from orgs.sso.tasks import domain_recheck_task, domains_recheck_task
from tests.components import wait_for
from tests.dns_components import verify_domain
from tests.factories import MembershipFactory, OrganizationFactory
from tests.sso_components import free_port

pytestmark = pytest.mark.django_db


def events(org, action):
    return AuditEvent.objects.for_org(org).filter(action=action)


def test_domain_is_verified_by_its_txt_record_over_real_dns(owner, dns):
    row = sso.domain_add(org=owner.org, actor=owner, domain="Acme.TEST")
    assert row.domain == "acme.test"
    dns.publish("acme.test", "v=spf1 -all")
    with pytest.raises(ValidationError, match="No TXT record governance-verification="):
        sso.domain_verify_dns(org=owner.org, actor=owner, domain=row)
    row.refresh_from_db()
    assert row.verified_at is None
    assert events(owner.org, "domain.verification_failed").get().changes["reason"] == \
        "record_missing"

    dns.publish("acme.test", row.txt_record)
    row = sso.domain_verify_dns(org=owner.org, actor=owner, domain=row)
    assert row.verified_at and row.method == VerifiedDomain.Method.DNS
    assert events(owner.org, "domain.verified").count() == 1
    assert sso.verified_domain_org("alice@acme.test") == owner.org


def test_another_orgs_token_does_not_prove_the_domain(owner, outsider, dns):
    # The token is per org and domain: Globex's record on acme.test proves nothing for Acme.
    theirs = sso.domain_add(org=outsider.org, actor=outsider, domain="acme.test")
    mine = sso.domain_add(org=owner.org, actor=owner, domain="acme.test")
    assert theirs.txt_record != mine.txt_record
    dns.publish("acme.test", theirs.txt_record)
    with pytest.raises(ValidationError, match="No TXT record"):
        sso.domain_verify_dns(org=owner.org, actor=owner, domain=mine)
    mine.refresh_from_db()
    assert mine.verified_at is None


def test_dns_that_does_not_answer_is_said_so_and_changes_nothing(owner, settings):
    settings.DNS_RESOLVER_NAMESERVERS = [("127.0.0.1", free_port())]  # nothing listens
    settings.DNS_RESOLVER_TIMEOUT = 1
    row = sso.domain_add(org=owner.org, actor=owner, domain="acme.test")
    with pytest.raises(ValidationError, match="DNS did not answer for acme.test"):
        sso.domain_verify_dns(org=owner.org, actor=owner, domain=row)
    row.refresh_from_db()
    assert row.verified_at is None


def test_owner_confirmation_no_longer_exists(owner):
    assert not hasattr(sso, "domain_confirm")


def test_a_verified_domain_is_refused_to_a_second_org_with_a_clear_message(
        owner, outsider, dns):
    verify_domain(dns, owner.org, owner, "acme.test")
    with pytest.raises(ValidationError, match="acme.test is already verified by another "
                                              "organization. A domain can be verified by one"):
        sso.domain_add(org=outsider.org, actor=outsider, domain="acme.test")
    assert not VerifiedDomain.objects.for_org(outsider.org).exists()


def test_a_pending_claim_cannot_be_verified_once_another_org_verified(owner, outsider, dns):
    theirs = sso.domain_add(org=outsider.org, actor=outsider, domain="acme.test")
    verify_domain(dns, owner.org, owner, "acme.test")
    dns.publish("acme.test", theirs.txt_record)  # even with their own record published
    with pytest.raises(ValidationError, match="already verified by another organization"):
        sso.domain_verify_dns(org=outsider.org, actor=outsider, domain=theirs)
    theirs.refresh_from_db()
    assert theirs.verified_at is None


def test_operator_preverified_domain_needs_no_record(owner, settings, dns):
    settings.SSO_PREVERIFIED_DOMAINS = ["acme.test"]
    row = sso.domain_add(org=owner.org, actor=owner, domain="acme.test")
    row = sso.domain_verify_dns(org=owner.org, actor=owner, domain=row)
    assert row.method == VerifiedDomain.Method.OPERATOR
    other = sso.domain_add(org=owner.org, actor=owner, domain="initech.test")
    with pytest.raises(ValidationError, match="No TXT record"):
        sso.domain_verify_dns(org=owner.org, actor=owner, domain=other)


# --- The scheduled recheck ------------------------------------------------------------


def test_recheck_keeps_a_domain_whose_record_is_there(owner, dns):
    row = verify_domain(dns, owner.org, owner, "acme.test")
    assert domain_recheck_task.delay(owner.org.pk, row.pk).get() == "kept"
    row.refresh_from_db()
    assert row.verified_at and row.checked_at
    assert not events(owner.org, "domain.unverified").exists()


def test_recheck_unverifies_a_domain_whose_record_disappeared(
        personas, dns, django_capture_on_commit_callbacks):
    owner, admin = personas[Role.OWNER], personas[Role.ADMIN]
    row = verify_domain(dns, owner.org, owner, "acme.test")
    dns.withdraw("acme.test")
    with django_capture_on_commit_callbacks(execute=True):
        assert domain_recheck_task.delay(owner.org.pk, row.pk).get() == "unverified"
    row.refresh_from_db()
    assert row.verified_at is None and row.method == ""
    [audit] = events(owner.org, "domain.unverified")
    assert audit.actor is None and audit.changes["reason"] == "txt_record_gone"
    assert sso.verified_domain_org("alice@acme.test") is None
    # The admins are told (the notification fan-out ran on commit).
    event = NotificationEvent.objects.for_org(owner.org).get(kind="security.domain_unverified")
    told = set(Notification.objects.for_org(owner.org).filter(event=event)
               .values_list("user__email", flat=True))
    assert {owner.user.email, admin.user.email} <= told
    assert personas[Role.MEMBER].user.email not in told
    # Safe to run twice: nothing more happens.
    assert domain_recheck_task.delay(owner.org.pk, row.pk).get() == "skipped"
    assert events(owner.org, "domain.unverified").count() == 1


def test_recheck_when_dns_does_not_answer_changes_nothing(owner, dns, settings):
    row = verify_domain(dns, owner.org, owner, "acme.test")
    settings.DNS_RESOLVER_NAMESERVERS = [("127.0.0.1", free_port())]
    settings.DNS_RESOLVER_TIMEOUT = 1
    assert domain_recheck_task.delay(owner.org.pk, row.pk).get() == "dns_unavailable"
    row.refresh_from_db()
    assert row.verified_at is not None
    assert not events(owner.org, "domain.unverified").exists()


def test_recheck_runs_once_per_claim_window(owner, dns):
    row = verify_domain(dns, owner.org, owner, "acme.test")
    assert domain_recheck_task.delay(owner.org.pk, row.pk).get() == "kept"
    dns.withdraw("acme.test")
    # A duplicate message right after (redelivery, two beat ticks) does nothing.
    assert domain_recheck_task.delay(owner.org.pk, row.pk).get() == "skipped"


def test_beat_fan_out_queues_every_verified_domain_of_every_org(owner, outsider, dns):
    mine = verify_domain(dns, owner.org, owner, "acme.test")
    verify_domain(dns, outsider.org, outsider, "globex.test")
    sso.domain_add(org=owner.org, actor=owner, domain="pending.test")  # not verified
    dns.withdraw("globex.test")
    assert domains_recheck_task() == 2
    assert VerifiedDomain.objects.get(pk=mine.pk).verified_at is not None
    assert not VerifiedDomain.objects.for_org(outsider.org).get().verified_at


def test_domain_removed_from_the_operator_list_is_unverified(owner, settings, dns):
    settings.SSO_PREVERIFIED_DOMAINS = ["acme.test"]
    row = sso.domain_verify_dns(org=owner.org, actor=owner, domain=sso.domain_add(
        org=owner.org, actor=owner, domain="acme.test"))
    settings.SSO_PREVERIFIED_DOMAINS = []
    assert domain_recheck_task.delay(owner.org.pk, row.pk).get() == "unverified"
    assert events(owner.org, "domain.unverified").get().changes["reason"] == \
        "removed_from_preverified_domains"


def test_a_legacy_owner_confirmed_domain_counts_for_nothing(owner, dns):
    # Rows confirmed "as owner" before issue 12.1: no SSO, and the recheck needs DNS proof.
    from django.utils import timezone

    row = sso.domain_add(org=owner.org, actor=owner, domain="acme.test")
    VerifiedDomain.objects.filter(pk=row.pk).update(verified_at=timezone.now(),
                                                    method=VerifiedDomain.Method.OWNER)
    assert sso.verified_domain_org("alice@acme.test") is None
    assert domain_recheck_task.delay(owner.org.pk, row.pk).get() == "unverified"
    assert events(owner.org, "domain.unverified").get().changes["reason"] == \
        "owner_confirmation_no_longer_accepted"


def test_a_legacy_owner_confirmed_domain_with_its_record_becomes_dns_verified(owner, dns):
    from django.utils import timezone

    row = sso.domain_add(org=owner.org, actor=owner, domain="acme.test")
    VerifiedDomain.objects.filter(pk=row.pk).update(verified_at=timezone.now(),
                                                    method=VerifiedDomain.Method.OWNER)
    dns.publish("acme.test", row.txt_record)
    assert domain_recheck_task.delay(owner.org.pk, row.pk).get() == "kept"
    row.refresh_from_db()
    assert row.method == VerifiedDomain.Method.DNS
    assert sso.verified_domain_org("alice@acme.test") == owner.org


def test_only_admins_verify_domains(personas, dns):
    row = sso.domain_add(org=personas[Role.OWNER].org, actor=personas[Role.OWNER],
                         domain="acme.test")
    dns.publish("acme.test", row.txt_record)
    with pytest.raises(PermissionDenied, match="cannot do this"):
        sso.domain_verify_dns(org=row.org, actor=personas[Role.MEMBER], domain=row)
    row.refresh_from_db()
    assert row.verified_at is None


@pytest.mark.parametrize(("raw", "expected"), [
    ("127.0.0.1:5399", [("127.0.0.1", 5399)]),
    ("10.0.0.2, ::1", [("10.0.0.2", 53), ("::1", 53)]),
    ("", []),
])
def test_dns_resolver_nameservers_setting(monkeypatch, raw, expected):
    from governance.env import env_nameservers

    monkeypatch.setenv("DNS_RESOLVER_NAMESERVERS", raw)
    assert env_nameservers("DNS_RESOLVER_NAMESERVERS") == expected


@pytest.mark.parametrize(("raw", "message"), [
    ("dns.example.com", "is not IP\\[:port\\]"),
    ("127.0.0.1:99999", "port 99999 is out of range"),
])
def test_dns_resolver_nameservers_refuses_bad_values(monkeypatch, raw, message):
    from django.core.exceptions import ImproperlyConfigured

    from governance.env import env_nameservers

    monkeypatch.setenv("DNS_RESOLVER_NAMESERVERS", raw)
    with pytest.raises(ImproperlyConfigured, match=message):
        env_nameservers("DNS_RESOLVER_NAMESERVERS")


@pytest.fixture
def dns_worker(dns, monkeypatch, request):
    """A real Celery worker whose resolver is the session's dnsmasq (the worker process
    reads DNS_RESOLVER_NAMESERVERS from its environment)."""
    monkeypatch.setenv("DNS_RESOLVER_NAMESERVERS", f"127.0.0.1:{dns.port}")
    return request.getfixturevalue("celery_worker_process")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_real_worker_unverifies_a_domain_whose_record_disappeared(dns, dns_worker):
    org = OrganizationFactory(slug="dns-worker")
    admin = MembershipFactory(org=org, role=Role.ADMIN)
    kept = verify_domain(dns, org, admin, "kept.test")
    gone = verify_domain(dns, org, admin, "gone.test")
    dns.withdraw("gone.test")

    # Beat's message: the worker runs the fan-out, which sends one task per domain.
    domains_recheck_task.apply_async(queue=dns_worker.queue)
    wait_for(lambda: events(org, "domain.unverified").exists(), timeout=20,
             message="The worker did not un-verify gone.test (its log is in the output)")
    wait_for(lambda: VerifiedDomain.objects.get(pk=kept.pk).checked_at is not None,
             timeout=20, message="The worker did not recheck kept.test")
    assert VerifiedDomain.objects.get(pk=gone.pk).verified_at is None
    assert VerifiedDomain.objects.get(pk=kept.pk).verified_at is not None
    assert events(org, "domain.unverified").get().object_repr == "gone.test"
    assert "orgs.domain_recheck[" in dns_worker.log()


@pytest.mark.parametrize("task", [domains_recheck_task, domain_recheck_task])
def test_recheck_tasks_are_scheduled_ack_late_with_bounded_retries(task, settings):
    assert task.app.amqp.router.route({}, task.name)["queue"].name == "default"
    assert task.acks_late is True and task.max_retries == 3
    schedule = settings.CELERY_BEAT_SCHEDULE["orgs.domains_recheck"]
    assert schedule["task"] == domains_recheck_task.name and schedule["schedule"] == 6 * 3600
