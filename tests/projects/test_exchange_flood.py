"""Issue 12, section 2: the anonymous token exchange cannot be used to write into orgs.

Forged tokens (naming a trusted issuer, signed by a key the issuer never published) used
to write an audit event, a notification, emails and webhook deliveries, carrying the
attacker's claim text, in every org trusting the issuer. Now they write nothing in any
org, are counted (GET /healthz), raise at most one finding per org and window (a beat
task), and the endpoint answers 429 with Retry-After past its limits."""

import time

import pytest
from django.core import mail

from approvals.models import Finding
from approvals.tasks import unverified_exchange_scan_task
from orgs.audit import AuditEvent
from orgs.events import NotificationEvent
from orgs.notifications.models import Notification
from orgs.webhooks.models import WebhookDelivery
from projects import exchange_watch, workload
from projects.models import WorkloadToken
from tests.factories import CallerFactory, MembershipFactory, ProjectFactory
from tests.projects import test_workload_identity as workload_tests
from tests.projects.test_workload_identity import AUDIENCE, SUBJECT, exchange

# Rate windows frozen: no window may end in the middle of a test.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_rate_clock")]

# The real issuer (an HTTP server on 127.0.0.1) and its mapping in Acme, shared with the
# workload identity tests.
issuer = workload_tests.issuer
identity = workload_tests.identity
_local_issuers_and_cold_caches = workload_tests._local_issuers_and_cold_caches

ATTACKER_TEXT = "<img src=x onerror=alert(1)> wire 10k to attacker"


@pytest.fixture
def identity_b(org_b, issuer):
    """Globex trusts the same issuer (a second org the flood used to write into)."""
    owner_b = MembershipFactory(org=org_b, role="owner", user__email="owner@globex.test")
    project = ProjectFactory(org=org_b, name="Globex bot", slug="globex-bot")
    env = project.environments.get(tier="production")
    caller = CallerFactory(project=project, owner=owner_b, name="globex-api")
    return workload.identity_create(
        org=org_b, actor=owner_b, project=project, environment=env, caller=caller,
        name="Globex deploy", issuer=issuer.url, audience=AUDIENCE, claim="sub",
        match="exact", pattern=SUBJECT)


def forged(issuer):
    # Signed with a key the issuer never published, under the kid of its real key.
    return issuer.token(kid="k1", sign_with="stranger", sub=ATTACKER_TEXT,
                        repository=ATTACKER_TEXT)


def org_writes(org) -> dict:
    return {"audit": AuditEvent.objects.for_org(org).count(),
            "events": NotificationEvent.objects.for_org(org).count(),
            "notifications": Notification.objects.for_org(org).count(),
            "deliveries": WebhookDelivery.objects.for_org(org).count()}


def test_100_forged_exchanges_write_nothing_in_any_org_and_get_429_after_the_limit(
        org_a, org_b, identity, identity_b, issuer, client,
        django_capture_on_commit_callbacks):
    # With the shipped limits: 60 a minute per address, 600 per issuer.
    before = {org: org_writes(org) for org in (org_a, org_b)}
    token = forged(issuer)

    with django_capture_on_commit_callbacks(execute=True):
        responses = [exchange(token) for _ in range(100)]

    assert [r.status_code for r in responses] == [400] * 60 + [429] * 40
    assert "signature does not verify" in responses[0].json()["error_description"]
    limited = responses[-1]
    assert limited.json()["error"] == "slow_down"
    assert "from your address" in limited.json()["error_description"]
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert {org: org_writes(org) for org in (org_a, org_b)} == before
    assert mail.outbox == []
    assert not WorkloadToken.objects.exists()
    # Counted instead: once overall and once in each org that trusts the issuer.
    assert exchange_watch.unverified_counts([org_a.pk, org_b.pk]) == {
        "all": 60, org_a.pk: 60, org_b.pk: 60}
    metric = client.get("/healthz").json()["metrics"]["unverified_exchanges"]
    assert metric == {"window_seconds": 3600, "current_window": 60, "previous_window": 0}


def test_the_scan_raises_one_finding_per_org_per_window_without_claim_text(
        settings, org_a, org_b, identity, identity_b, issuer, monkeypatch):
    for _ in range(3):
        exchange(forged(issuer))

    assert unverified_exchange_scan_task() == 2
    assert unverified_exchange_scan_task() == 0  # the same window again: nothing new
    exchange(forged(issuer))
    assert unverified_exchange_scan_task() == 0

    for org in (org_a, org_b):
        finding = Finding.objects.for_org(org).get(kind=Finding.Kind.FORGED_EXCHANGE)
        assert finding.title.startswith("3 workload token exchanges with a signature that "
                                        "did not verify")
        assert finding.detail["issuers"] == [issuer.url]
        stored = [str(finding.title), str(finding.detail)]
        stored += [str(e.changes) for e in AuditEvent.objects.for_org(org)]
        stored += [str(e.payload) for e in NotificationEvent.objects.for_org(org)]
        assert not any(ATTACKER_TEXT in text for text in stored)
        assert "onerror" not in "".join(stored)

    # The next window raises a new finding, once.
    current = exchange_watch.window_index()
    monkeypatch.setattr(exchange_watch, "window_index", lambda now=None: current + 2)
    exchange(forged(issuer))
    assert unverified_exchange_scan_task() == 2
    assert unverified_exchange_scan_task() == 0
    assert Finding.objects.for_org(org_a).filter(kind=Finding.Kind.FORGED_EXCHANGE).count() \
        == 2


def test_the_scan_raises_nothing_without_forged_exchanges(org_a, identity, issuer):
    assert exchange(issuer.token()).status_code == 200
    assert unverified_exchange_scan_task() == 0
    assert not Finding.objects.for_org(org_a).exists()


def test_the_issuer_limit_holds_across_client_addresses(settings, identity, issuer):
    settings.TOKEN_EXCHANGE_RATE_PER_ISSUER = "3/m"
    codes = [exchange(issuer.token(), remote_addr=f"198.51.100.{n}").status_code
             for n in range(1, 5)]
    assert codes == [200, 200, 200, 429]
    refused = exchange(issuer.token(), remote_addr="198.51.100.9")
    assert "for this issuer" in refused.json()["error_description"]
    assert refused["Retry-After"]
    assert WorkloadToken.objects.count() == 3


def test_an_unknown_issuer_does_not_use_up_a_trusted_issuers_limit(settings, identity,
                                                                   issuer):
    settings.TOKEN_EXCHANGE_RATE_PER_ISSUER = "2/m"
    for n in range(5):
        exchange(issuer.token(iss="https://unknown.example.com"),
                 remote_addr=f"198.51.100.{n}")
    assert exchange(issuer.token()).status_code == 200


def test_a_replayed_signed_token_is_audited_once_per_window(org_a, identity, issuer):
    token = issuer.token(exp=int(time.time()) - 120, iat=int(time.time()) - 600, nbf=None)
    codes = [exchange(token).status_code for _ in range(5)]
    assert codes == [400] * 5
    assert AuditEvent.objects.for_org(org_a).filter(
        action="workload.exchange_failed").count() == 1
    assert NotificationEvent.objects.for_org(org_a).filter(
        kind="key.exchange_failed").count() == 1
