"""Workload identity against a real JWT issuer: an HTTP server on 127.0.0.1 started by the
tests, serving OIDC discovery and a JWKS of keys generated here. A valid token is
exchanged; every item of the negative list is refused with an OAuth error; those the
issuer signed also leave an audit event and a key.exchange_failed notification, the
others are only counted (floods: test_exchange_flood.py)."""

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from rest_framework.test import APIClient

from orgs.audit import AuditEvent
from orgs.events import NotificationEvent
from projects import exchange_watch, jwks, workload
from projects.credentials import FailureReason, resolve_credential
from projects.models import Caller, WorkloadToken
from tests.factories import CallerFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/oauth/token"
FORM = "application/x-www-form-urlencoded"
AUDIENCE = "https://governance.example.com/o/acme"
SUBJECT = "repo:acme/app:ref:refs/heads/main"


class Issuer:
    """A minimal OIDC issuer: discovery, a JWKS, and keys to sign tokens with."""

    def __init__(self):
        self.keys = {}  # kid -> private key
        self.published = set()  # kids in the JWKS
        self.jwks_hits = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": issuer.url + "/jwks"}
                elif self.path == "/jwks":
                    issuer.jwks_hits += 1
                    body = {"keys": [issuer.public_jwk(kid) for kid in sorted(issuer.published)]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def add_key(self, kid, *, kind="rsa", publish=True):
        self.keys[kid] = (rsa.generate_private_key(public_exponent=65537, key_size=2048)
                          if kind == "rsa" else ec.generate_private_key(ec.SECP256R1()))
        if publish:
            self.published.add(kid)
        return kid

    def public_jwk(self, kid):
        key = self.keys[kid].public_key()
        algorithm = jwt.algorithms.RSAAlgorithm if isinstance(
            key, rsa.RSAPublicKey) else jwt.algorithms.ECAlgorithm
        jwk = json.loads(algorithm.to_jwk(key))
        return {**jwk, "kid": kid, "use": "sig"}

    def public_pem(self, kid):
        return self.keys[kid].public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def claims(self, **overrides):
        now = int(time.time())
        claims = {"iss": self.url, "aud": AUDIENCE, "sub": SUBJECT, "iat": now,
                  "nbf": now, "exp": now + 300, "jti": uuid.uuid4().hex,
                  "repository": "acme/app", "ref": "refs/heads/main"}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, *, kid="k1", alg="RS256", sign_with=None, **overrides):
        return jwt.encode(self.claims(**overrides), self.keys[sign_with or kid], algorithm=alg,
                          headers={"kid": kid})

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(header: dict, claims: dict, key: bytes | None = None) -> str:
    """A JWT built by hand: alg none (no signature), or HS256 keyed with `key` (PyJWT
    itself refuses to use a public key as an HMAC secret, which is the attack)."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = b"" if key is None else hmac.new(key, signing_input.encode(),
                                                 hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


@pytest.fixture(scope="module")
def issuer():
    issuer = Issuer()
    issuer.add_key("k1")
    issuer.add_key("ec1", kind="ec")
    issuer.add_key("stranger", publish=False)  # signs tokens the issuer never published
    yield issuer
    issuer.stop()


@pytest.fixture(autouse=True)
def _local_issuers_and_cold_caches(loopback_allowed, issuer):
    jwks_url = issuer.url + "/jwks"
    cache.delete_many([jwks._key("jwks", jwks_url), jwks._key("jwks-refresh", jwks_url),
                       jwks._key("oidc-config", issuer.url)])


@pytest.fixture
def identity(org_a, owner, envs, caller_a, issuer):
    return workload.identity_create(
        org=org_a, actor=owner, project=envs["production"].project,
        environment=envs["production"], caller=caller_a, name="GitHub deploy",
        issuer=issuer.url, audience=AUDIENCE, claim="sub", match="exact", pattern=SUBJECT)


def exchange(token, remote_addr="127.0.0.1", **extra):
    body = {"grant_type": workload.GRANT_TYPE, "subject_token": token,
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt", **extra}
    # Form-encoded, as RFC 8693 (and every OAuth client) sends it.
    return APIClient().post(URL, urlencode(body), content_type=FORM, REMOTE_ADDR=remote_addr)


def failures(org):
    return AuditEvent.objects.for_org(org).filter(action="workload.exchange_failed")


def test_a_valid_token_is_exchanged_for_a_credential_of_that_caller_only(
        org_a, identity, issuer, envs, caller_a):
    response = exchange(issuer.token())
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["issued_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    assert 0 < body["expires_in"] <= 3600
    assert response["Cache-Control"] == "no-store"
    resolved = resolve_credential(body["access_token"], environment=envs["production"])
    assert resolved.ok and resolved.kind == "workload_token"
    assert (resolved.org, resolved.environment, resolved.caller) == (
        org_a, envs["production"], caller_a)
    token = WorkloadToken.objects.for_org(org_a).get()
    assert body["access_token"] not in str(token.__dict__)
    assert AuditEvent.objects.for_org(org_a).filter(action="workload.exchanged").exists()
    assert not failures(org_a).exists()


def test_an_es256_token_is_exchanged_too(identity, issuer):
    assert exchange(issuer.token(kid="ec1", alg="ES256")).status_code == 200


def test_a_glob_rule_matches_named_claims(org_a, owner, envs, caller_a, issuer):
    workload.identity_create(
        org=org_a, actor=owner, project=envs["staging"].project, environment=envs["staging"],
        caller=caller_a, name="any branch", issuer=issuer.url, audience=AUDIENCE,
        claim="sub", match="glob", pattern="repo:acme/app:ref:refs/heads/*")
    assert exchange(issuer.token(sub="repo:acme/app:ref:refs/heads/feature-x")).status_code \
        == 200
    refused = exchange(issuer.token(sub="repo:evil/app:ref:refs/heads/main"))
    assert refused.status_code == 400


def refused_cases(issuer):
    now = int(time.time())
    claims = issuer.claims()
    return {
        "wrong audience": (issuer.token(aud="https://elsewhere.example.com"), "audience"),
        "expired": (issuer.token(exp=now - 120, iat=now - 600, nbf=now - 600), "expired"),
        "not yet valid": (issuer.token(nbf=now + 600, iat=now), "not valid yet"),
        "issued in the future": (issuer.token(iat=now + 600, nbf=None), "not valid yet"),
        "bad signature": (issuer.token(kid="k1", sign_with="stranger"), "signature"),
        "unknown kid": (issuer.token(kid="stranger"), "no signing key"),
        "subject not matching": (issuer.token(sub="repo:acme/app:ref:refs/heads/dev"),
                                 "subject rule"),
        "alg none": (unsigned_token({"alg": "none", "typ": "JWT", "kid": "k1"}, claims),
                     "'none' is not accepted"),
        "HS256 keyed with the public key": (
            unsigned_token({"alg": "HS256", "typ": "JWT", "kid": "k1"}, claims,
                           key=issuer.public_pem("k1")), "'HS256' is not accepted"),
        "no jti": (issuer.token(jti=None), "'jti'"),
    }


# Refused after the signature verified: the issuer signed these, so each org is told.
VERIFIED_CASES = ["wrong audience", "expired", "not yet valid", "issued in the future",
                  "subject not matching", "no jti"]
# Refused before: anybody can send these, so they are only counted (test_exchange_flood.py).
UNVERIFIED_CASES = ["bad signature", "unknown kid", "alg none",
                    "HS256 keyed with the public key"]


@pytest.mark.parametrize("case", VERIFIED_CASES)
def test_refused_signed_tokens_get_an_oauth_error_and_an_audit_event(org_a, identity, issuer,
                                                                      case):
    token, words = refused_cases(issuer)[case]
    response = exchange(token)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_grant"
    assert words in body["error_description"], body
    assert "access_token" not in body
    event = failures(org_a).get()
    assert event.changes["reason"] == body["error_description"]
    notice = NotificationEvent.objects.for_org(org_a).get(kind="key.exchange_failed")
    assert notice.payload["reason"] == body["error_description"]
    assert not WorkloadToken.objects.for_org(org_a).exists()


@pytest.mark.parametrize("case", UNVERIFIED_CASES)
def test_refused_unverified_tokens_get_an_oauth_error_and_write_nothing(org_a, identity,
                                                                        issuer, case):
    token, words = refused_cases(issuer)[case]
    response = exchange(token)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_grant"
    assert words in body["error_description"], body
    assert not failures(org_a).exists()
    assert not NotificationEvent.objects.for_org(org_a).exists()
    assert exchange_watch.unverified_counts([org_a.pk]) == {"all": 1, org_a.pk: 1}
    assert not WorkloadToken.objects.for_org(org_a).exists()


def test_a_replayed_jti_is_refused(org_a, identity, issuer):
    token = issuer.token()
    assert exchange(token).status_code == 200
    replay = exchange(token)
    assert replay.status_code == 400
    assert "jti replay" in replay.json()["error_description"]
    assert failures(org_a).count() == 1
    assert WorkloadToken.objects.for_org(org_a).count() == 1


def test_jwks_is_cached_and_refetched_once_for_a_new_kid(identity, issuer):
    hits = issuer.jwks_hits
    assert exchange(issuer.token()).status_code == 200
    assert exchange(issuer.token()).status_code == 200
    assert issuer.jwks_hits == hits + 1  # the second exchange used the cached set
    issuer.add_key("k2")  # the issuer rotates its signing key
    assert exchange(issuer.token(kid="k2")).status_code == 200
    assert issuer.jwks_hits == hits + 2


@pytest.mark.parametrize("body, error", [
    ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
    ({"grant_type": workload.GRANT_TYPE, "subject_token_type":
      "urn:ietf:params:oauth:token-type:jwt"}, "invalid_request"),
    ({"grant_type": workload.GRANT_TYPE, "subject_token": "x.y.z",
      "subject_token_type": "urn:ietf:params:oauth:token-type:saml2"}, "invalid_request"),
    ({"grant_type": workload.GRANT_TYPE, "subject_token": "not-a-jwt",
      "subject_token_type": "urn:ietf:params:oauth:token-type:jwt"}, "invalid_request"),
])
def test_malformed_requests_get_oauth_errors(body, error):
    response = APIClient().post(URL, urlencode(body), content_type=FORM)
    assert response.status_code == 400
    assert response.json()["error"] == error


def test_unknown_issuer_is_refused(identity, issuer):
    token = issuer.token(iss="https://unknown.example.com")
    response = exchange(token)
    assert response.status_code == 400
    assert "issuer" in response.json()["error_description"]


def test_deleting_an_identity_kills_its_tokens_at_once(org_a, owner, identity, issuer):
    access = exchange(issuer.token()).json()["access_token"]
    assert resolve_credential(access).ok
    workload.identity_delete(org=org_a, actor=owner, identity=identity)
    assert resolve_credential(access).reason == FailureReason.REVOKED
    assert AuditEvent.objects.for_org(org_a).filter(
        action="workload_identity.deleted").exists()


def test_identity_never_maps_to_a_person_or_a_reviewer(org_a, owner, personas, envs, issuer,
                                                       project_a):
    fields = {"name": "x", "issuer": issuer.url, "audience": AUDIENCE, "claim": "sub",
              "match": "exact", "pattern": SUBJECT}
    human = CallerFactory(project=project_a, owner=owner, kind=Caller.Kind.HUMAN)
    reviewers = CallerFactory(project=project_a, owner=personas["security"])
    for caller in (human, reviewers):
        with pytest.raises(ValidationError):
            workload.identity_create(org=org_a, actor=owner, project=project_a,
                                     environment=envs["production"], caller=caller, **fields)


def test_only_project_admins_add_identities(org_a, personas, people, envs, caller_a, issuer,
                                            project_a):
    fields = {"name": "x", "issuer": issuer.url, "audience": AUDIENCE, "claim": "sub",
              "match": "exact", "pattern": SUBJECT}
    for actor in (people["developer"], people["security_admin"], personas["member"]):
        with pytest.raises(PermissionDenied):
            workload.identity_create(org=org_a, actor=actor, project=project_a,
                                     environment=envs["development"], caller=caller_a,
                                     **fields)


def test_issuer_must_be_https_unless_local_issuers_are_allowed(org_a, owner, envs, caller_a,
                                                               settings, project_a):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    with pytest.raises(ValidationError) as exc:
        workload.identity_create(
            org=org_a, actor=owner, project=project_a, environment=envs["production"],
            caller=caller_a, name="x", issuer="http://127.0.0.1:9", audience=AUDIENCE,
            claim="sub", match="exact", pattern=SUBJECT)
    assert "issuer" in exc.value.message_dict
