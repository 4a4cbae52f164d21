"""Shared fixtures: two orgs, one persona per role in org A, an outsider who owns org B.

Personas are Memberships; `login(client, membership)` signs their user in.
"""

import base64
import time
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from orgs.roles import Role
from tests.factories import (
    CallerFactory,
    MembershipFactory,
    OrganizationFactory,
    ProjectFactory,
)

pytest_plugins = ["tests.components", "tests.sso_components", "tests.dns_components",
                  "tests.gateway_stub"]

ROLES = [r.value for r in Role]


@pytest.fixture(autouse=True)
def _own_cache_namespace(settings, monkeypatch):
    # Each test gets its own cache key prefix on the shared Redis: allauth's rate limits
    # (failed logins per address, the email confirmation cooldown) and the credential
    # generation counter never leak between tests, xdist workers or runs. Exported too, so
    # a worker or resolver subprocess the test starts shares the test's namespace.
    prefix = f"t{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("CACHE_KEY_PREFIX", prefix)
    settings.CACHES = {name: {**conf, "KEY_PREFIX": prefix}
                       for name, conf in settings.CACHES.items()}


@pytest.fixture(autouse=True)
def _plain_http(settings):
    # Tests run with DEBUG off (as production), where settings turn on the HTTPS redirect
    # and hashed static names that need collectstatic; the test client speaks plain HTTP
    # and static files come from the finders.
    settings.SECURE_SSL_REDIRECT = False
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def loopback_allowed(settings, monkeypatch):
    """Lets orgs/outbound.py reach 127.0.0.1 (and nothing else private), for tests that run
    their own fake server there. Exported too, for a Celery worker the test starts."""
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    monkeypatch.setenv("OUTBOUND_ALLOWED_NETWORKS", "127.0.0.1/32")


@pytest.fixture
def loopback_refused(settings, monkeypatch):
    """The production rule: no private network allowed at all."""
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    monkeypatch.setenv("OUTBOUND_ALLOWED_NETWORKS", "")


PUBLIC_ADDRESS = "93.184.215.14"  # a public address; no test ever connects to it


@pytest.fixture
def public_dns(monkeypatch):
    """Host names (gateway.example, example.com) resolve to a public address without DNS,
    for tests that save a URL the outbound policy checks. Any connection that would leave
    loopback fails the test instead of being made."""
    import ipaddress
    import socket

    from orgs import outbound

    def resolve(host, port):
        if host == "localhost":
            return ["127.0.0.1"]
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            return [PUBLIC_ADDRESS]

    class LoopbackOnly(socket.socket):  # every Python socket: ours, requests', urllib3's
        def connect(self, address):
            if self.family in (socket.AF_INET, socket.AF_INET6) and \
                    not ipaddress.ip_address(address[0]).is_loopback:
                raise AssertionError(f"a test tried to connect to {address[0]}")
            return super().connect(address)

    monkeypatch.setattr(outbound, "resolve", resolve)
    monkeypatch.setattr(socket, "socket", LoopbackOnly)


@pytest.fixture(scope="session")
def _audit_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("audit")


@pytest.fixture(scope="session", autouse=True)
def audit_signing_key(_audit_dir):
    """A fresh Ed25519 audit signing key per test session (base64 of the raw 32 bytes).
    Exported with a checkpoint file of the session, so a worker or server subprocess the
    tests start verifies like production, never against the checkout's var/."""
    key = base64.b64encode(Ed25519PrivateKey.generate().private_bytes_raw()).decode()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUDIT_SIGNING_KEY", key)
        mp.delenv("AUDIT_SIGNING_KEY_FILE", raising=False)
        mp.setenv("AUDIT_CHECKPOINT_FILE", str(_audit_dir / "session.jsonl"))
        yield key


@pytest.fixture(autouse=True)
def _audit_signing(settings, audit_signing_key, _audit_dir):
    # Like production: a signing key outside the database, and a checkpoint file of this
    # test's own, never the checkout's var/.
    settings.AUDIT_SIGNING_KEY = audit_signing_key
    settings.AUDIT_CHECKPOINT_FILE = _audit_dir / f"{uuid.uuid4().hex}.jsonl"


@pytest.fixture(scope="session")
def _media_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("media")


@pytest.fixture(autouse=True)
def _media_root(settings, _media_dir):
    # Uploaded evidence files go to a temporary directory, never the checkout's var/.
    settings.MEDIA_ROOT = str(_media_dir)


@pytest.fixture
def org_a(db):
    return OrganizationFactory(name="Acme", slug="acme")


@pytest.fixture
def org_b(db):
    return OrganizationFactory(name="Globex", slug="globex")


@pytest.fixture
def personas(org_a):
    """{role: Membership} with one member of org A per role."""
    return {
        role: MembershipFactory(org=org_a, role=role, user__email=f"{role}@acme.test")
        for role in ROLES
    }


@pytest.fixture
def owner(personas):
    return personas[Role.OWNER]


@pytest.fixture
def outsider(org_b):
    """Owner of org B: has every scope there and none in org A."""
    return MembershipFactory(org=org_b, role=Role.OWNER, user__email="owner@globex.test")


@pytest.fixture
def project_a(org_a, owner):
    return ProjectFactory(org=org_a, name="Support bot", slug="support-bot")


@pytest.fixture
def caller_a(project_a, owner):
    return CallerFactory(project=project_a, owner=owner, name="support-api")


@pytest.fixture
def project_b(org_b, outsider):
    return ProjectFactory(org=org_b, name="Globex app", slug="globex-app")


@pytest.fixture
def caller_b(project_b, outsider):
    return CallerFactory(project=project_b, owner=outsider, name="globex-api")


def login(client, membership):
    client.force_login(membership.user)
    return client


@pytest.fixture
def frozen_rate_clock(monkeypatch):
    """Freeze the clock of the rate limits and their windows (orgs/ratelimit.py) 30 s into
    a minute, so a test's requests never straddle the end of a window."""
    from orgs import ratelimit

    start = (int(time.time()) // 3600) * 3600 + 1830
    monkeypatch.setattr(ratelimit, "clock", lambda: float(start))
    return start
