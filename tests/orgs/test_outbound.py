"""The outbound-HTTP policy (orgs/outbound.py) on every fetcher the server has.

One parametrized test runs each fetcher against loopback, link-local, private and
redirect-to-private targets. Only 127.0.0.1 ever receives traffic: link-local and private
targets are literal addresses or names our resolver answers, and `no_traffic_off_loopback`
fails the test if anything tries to connect beyond loopback, so the policy must refuse
them before connecting.
"""

import http.server
import ipaddress
import socket
import threading
import time
from types import SimpleNamespace

import pytest
import requests

from evidence import gateway_client
from evidence.catalog import fetch_url
from evidence.importers import CatalogFileError
from evidence.models import CatalogRefresh
from evidence.refresh import catalog_refresh_run
from orgs import outbound
from orgs.adapters import SocialAccountAdapter
from orgs.crypto import encrypt
from orgs.dispatch import event_fan_out
from orgs.events import event_emit
from orgs.sso import idp
from orgs.webhooks import services as webhooks
from orgs.webhooks.models import WebhookAttempt, WebhookEndpoint
from projects import jwks

pytestmark = pytest.mark.django_db
SECRET = "internal-only-3f9a"  # what an internal page says; must never come back to us
NAMES = {"intranet.corp": ["10.0.0.1"], "dual.corp": ["93.184.215.14", "10.0.0.1"]}


class Target:
    """An HTTP server on 127.0.0.1 that records requests and answers with `script`:
    ("ok",) a JSON body holding SECRET, ("redirect", url), ("drip",) a body one byte at a
    time, ("big", n) n bytes without a length."""

    def __init__(self):
        self.requests, self.script = [], ("ok",)
        target = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self):
                target.requests.append((self.command, self.path, dict(self.headers)))
                if length := int(self.headers.get("Content-Length") or 0):
                    self.rfile.read(length)
                getattr(self, "_" + target.script[0])(*target.script[1:])

            do_GET = do_POST = _answer

            def _ok(self):
                body = b'{"secret": "%s", "keys": []}' % SECRET.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _redirect(self, location):
                body = SECRET.encode()
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _drip(self):
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                for _ in range(1000):
                    try:
                        self.wfile.write(b"x")
                        self.wfile.flush()
                    except OSError:
                        return  # the client gave up, as it should
                    time.sleep(0.1)  # the server's pace, not the test's: no test waits on it

            def _big(self, size):
                self.send_response(200)
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    for _ in range(size // 65536 + 1):
                        self.wfile.write(b"x" * 65536)
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def target():
    t = Target()
    yield t
    t.close()


@pytest.fixture
def no_traffic_off_loopback(monkeypatch):
    """Names resolve from NAMES (no DNS). Every Python socket (ours, requests', urllib3's)
    refuses to connect beyond loopback: the attempt fails the test and is recorded in the
    returned list instead of being made."""
    attempts, real_resolve = [], outbound.resolve

    class LoopbackOnly(socket.socket):
        def connect(self, address):
            if self.family in (socket.AF_INET, socket.AF_INET6) and \
                    not ipaddress.ip_address(address[0]).is_loopback:
                attempts.append(address[0])
                raise AssertionError(f"tried to connect to {address[0]}")
            return super().connect(address)

    monkeypatch.setattr(outbound, "resolve",
                        lambda host, port: NAMES.get(host) or real_resolve(host, port))
    monkeypatch.setattr(socket, "socket", LoopbackOnly)
    return attempts


# --- the six fetchers (seven entry points): each returns what the user or the log sees ---


def via_webhook(url, ctx):
    endpoint = WebhookEndpoint.objects.create(  # saved earlier; DNS or the URL changed since
        org=ctx.org, url=url, secret_encrypted=encrypt("whsec_" + "A" * 32))
    event_emit(org=ctx.org, kind="member.role_changed", payload={"member": "x"})
    [delivery_id] = event_fan_out(org=ctx.org).deliveries
    webhooks.delivery_attempt(org=ctx.org, delivery_id=delivery_id)
    attempt = WebhookAttempt.objects.get(delivery_id=delivery_id)
    assert endpoint.pk and not attempt.ok
    return f"{attempt.status_code} {attempt.error} {attempt.response_excerpt}"


def via_gateway(url, ctx):
    result = gateway_client.probe(base_url=url, key="sk-test", timeout=3, action="chat",
                                  model="m")
    assert not result.passed
    return f"{result.status} {result.error} {result.shape}"


def via_catalog_import(url, ctx):
    with pytest.raises(CatalogFileError) as exc:
        fetch_url(url)
    return str(exc.value.errors)


def via_catalog_refresh(url, ctx):
    CatalogRefresh.objects.create(org=ctx.org, url=url, format="litellm")
    assert catalog_refresh_run(org=ctx.org)["outcome"] == "failed"
    return CatalogRefresh.objects.get(org=ctx.org).last_error


def via_oidc_discovery(url, ctx):
    with pytest.raises(idp.IdPError) as exc:
        idp.oidc_discovery(url)
    return str(exc.value)


def via_saml_metadata(url, ctx):
    with pytest.raises(idp.IdPError) as exc:
        idp.saml_metadata(url=url)
    return str(exc.value)


def via_jwks(url, ctx):
    identity = SimpleNamespace(jwks_url=url, issuer=url)
    with pytest.raises(jwks.JWKSUnavailable) as exc:
        jwks.find_key(identity, "k1")
    return str(exc.value)


def via_allauth(url, ctx):
    """What allauth's OIDC provider does for discovery, tokens, userinfo and JWKS."""
    with SocialAccountAdapter().get_requests_session() as session, \
            pytest.raises(requests.ConnectionError) as exc:
        session.get(url).raise_for_status()
    return str(exc.value)


def via_unguarded(url, ctx):
    """A fetcher that forgot the policy: the planted defect the checks must catch."""
    return requests.get(url, timeout=3).text


FETCHERS = [via_webhook, via_gateway, via_catalog_import, via_catalog_refresh,
            via_oidc_discovery, via_saml_metadata, via_jwks, via_allauth]
# Webhooks, the gateway and JWKS never follow redirects; the others follow and re-check.
FOLLOWS_REDIRECTS = {via_catalog_import, via_catalog_refresh, via_oidc_discovery,
                     via_saml_metadata, via_allauth}


def refused_everywhere(fetcher, kind, target, attempts, settings, org) -> str:
    """Run fetcher against one kind of target and assert the policy held. Returns what
    the fetcher reported."""
    ctx = SimpleNamespace(org=org)
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"] if kind.startswith("redirect") \
        else []
    url = {"loopback": f"{target.url}/.well-known/x",
           "link-local": "http://169.254.169.254/latest/meta-data/",
           "private": "http://intranet.corp/catalog.json",
           "private-among-public": "https://dual.corp/x",
           "redirect-to-private": f"{target.url}/start",
           "redirect-to-link-local": f"{target.url}/start"}[kind]
    if kind.startswith("redirect"):
        # Literal addresses: a fetcher that skipped the policy would not even need DNS.
        target.script = ("redirect", "http://10.0.0.1/admin" if kind.endswith("private")
                         else "http://169.254.169.254/latest/meta-data/")
    try:
        seen = fetcher(url, ctx)
    except AssertionError:
        raise
    except Exception as exc:  # noqa: BLE001 -- a planted fetcher may raise anything
        seen = f"{type(exc).__name__}: {exc}"
    assert attempts == [], f"{fetcher.__name__} connected beyond loopback: {attempts}"
    assert SECRET not in seen, f"{fetcher.__name__} echoed the response body: {seen}"
    if kind == "loopback":
        assert target.requests == [], f"{fetcher.__name__} reached the loopback server"
        assert "127.0.0.1 resolves to 127.0.0.1, a loopback" in seen, seen
    elif kind.startswith("redirect"):
        assert len(target.requests) == 1  # the first hop only
        if fetcher in FOLLOWS_REDIRECTS:
            address = "10.0.0.1" if kind.endswith("private") else "169.254.169.254"
            assert f"resolves to {address}, a loopback, private" in seen, seen
    else:
        address = {"link-local": "169.254.169.254", "private": "10.0.0.1",
                   "private-among-public": "10.0.0.1"}[kind]
        assert f"resolves to {address}, a loopback, private" in seen, seen
    return seen


KINDS = ["loopback", "link-local", "private", "private-among-public", "redirect-to-private",
         "redirect-to-link-local"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fetcher", FETCHERS, ids=lambda f: f.__name__[4:])
def test_every_fetcher_refuses_private_targets(fetcher, kind, target, no_traffic_off_loopback,
                                               settings, org_a):
    refused_everywhere(fetcher, kind, target, no_traffic_off_loopback, settings, org_a)


@pytest.mark.parametrize("kind", ["loopback", "redirect-to-private"])
def test_the_check_catches_a_fetcher_that_skips_the_policy(kind, target,
                                                          no_traffic_off_loopback, settings,
                                                          org_a):
    # The safety net's own proof: a plain requests.get reaches the loopback server, or
    # follows the redirect towards 10.0.0.1, and the same assertions fail on it.
    with pytest.raises(AssertionError, match="reached the loopback server|echoed the "
                                             "response body|tried to connect to 10.0.0.1"):
        refused_everywhere(via_unguarded, kind, target, no_traffic_off_loopback, settings,
                           org_a)


def test_allowed_targets_are_still_fetched(target, loopback_allowed):
    # The refusals above are not fetchers that fail on everything: with 127.0.0.1
    # allowed, the same fetchers reach the server and read its answer.
    assert SECRET.encode() in fetch_url(target.url + "/catalog.json")
    with pytest.raises(idp.IdPError, match="lacks issuer"):
        idp.oidc_discovery(target.url)
    with SocialAccountAdapter().get_requests_session() as session:
        assert session.get(target.url + "/userinfo").json()["secret"] == SECRET
    assert gateway_client.probe(base_url=target.url, key="k", timeout=3, action="chat",
                                model="m").status == 200
    assert len(target.requests) == 4


# --- the helper itself ------------------------------------------------------------------


def test_the_connection_is_pinned_to_the_checked_address(target, settings, monkeypatch):
    # DNS rebinding: the first answer passes the check, a second would point inside. The
    # helper resolves once per hop and connects to what it checked.
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    answers = [["127.0.0.1"], ["10.0.0.1"]]
    monkeypatch.setattr(outbound, "resolve", lambda host, port: answers.pop(0))
    response = outbound.fetch("GET", f"http://rebind.test:{target.port}/x")
    assert response.status == 200 and answers == [["10.0.0.1"]]
    [(_, path, headers)] = target.requests
    assert path == "/x" and headers["Host"] == f"rebind.test:{target.port}"


def test_a_slow_server_cannot_hold_a_request_past_its_deadline(target, loopback_allowed):
    target.script = ("drip",)  # 1000 bytes at 10 a second: 100 s if we let it
    started = time.monotonic()
    with pytest.raises(outbound.OutboundError, match=r"timed out after 1 s\.") as exc:
        outbound.fetch("GET", target.url, timeout=1)
    assert exc.value.reason == "timeout" and time.monotonic() - started < 3


def test_a_body_above_the_cap_is_refused(target, loopback_allowed):
    target.script = ("big", 3 << 20)  # no Content-Length: counted while reading
    with pytest.raises(outbound.OutboundError, match="sent more than 1048576 bytes") as exc:
        outbound.fetch("GET", target.url, max_bytes=1 << 20)
    assert exc.value.reason == "too_large"


def test_redirects_beyond_the_limit_are_refused(target, loopback_allowed):
    target.script = ("redirect", "/again")
    with pytest.raises(outbound.OutboundError, match="redirected more than 2 times"):
        outbound.fetch("GET", target.url, max_redirects=2)
    assert len(target.requests) == 3


def test_credentials_do_not_follow_a_redirect_to_another_host(target, loopback_allowed,
                                                             monkeypatch):
    monkeypatch.setattr(outbound, "resolve", lambda host, port: ["127.0.0.1"])
    target.script = ("redirect", f"http://other.test:{target.port}/next")
    with pytest.raises(outbound.OutboundError):
        outbound.fetch("GET", f"http://first.test:{target.port}/", max_redirects=1,
                       headers={"Authorization": "Bearer s3cret"})
    first, second = target.requests
    assert first[2]["Authorization"] == "Bearer s3cret" and "Authorization" not in second[2]


def test_the_policy_refuses_other_schemes_and_bad_ports():
    with pytest.raises(outbound.OutboundRefused, match="Use an http:// or https:// URL"):
        outbound.check("file:///etc/passwd")
    with pytest.raises(outbound.OutboundRefused, match="port is not a number"):
        outbound.check("http://example.com:99999/")


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.1.2.3", "172.16.0.1",
                                     "192.168.1.1", "169.254.169.254", "100.64.0.1",
                                     "0.0.0.0", "::ffff:10.0.0.1", "fe80::1", "fc00::1",
                                     "224.0.0.1"])
def test_non_public_addresses_are_not_allowed(address, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    assert not outbound.is_allowed_address(address)


def test_allowed_networks_open_only_what_they_list(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["10.20.0.0/16"]
    assert outbound.is_allowed_address("10.20.3.4")
    assert not outbound.is_allowed_address("10.21.0.1")
    assert outbound.is_allowed_address("93.184.215.14")


def test_allowed_networks_setting_refuses_a_bad_network(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from governance.env import env_networks

    monkeypatch.setenv("OUTBOUND_ALLOWED_NETWORKS", "10.20.0.0/16, 10.0.0.0/33")
    with pytest.raises(ImproperlyConfigured, match="not '10.0.0.0/33'"):
        env_networks("OUTBOUND_ALLOWED_NETWORKS")


@pytest.mark.parametrize("old", ["WEBHOOK_ALLOW_PRIVATE_NETWORKS",
                                 "GATEWAY_ALLOW_PRIVATE_NETWORKS",
                                 "WORKLOAD_ALLOW_LOCAL_ISSUERS"])
def test_a_replaced_allow_setting_stops_start_up(old):
    # A deployment that still sets one would otherwise lose its exception silently.
    import os
    import subprocess
    import sys

    env = {**os.environ, old: "true", "SECRET_KEY": "x" * 50}
    result = subprocess.run([sys.executable, "-c", "import governance.settings"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert f"{old} was replaced by OUTBOUND_ALLOWED_NETWORKS" in result.stderr
