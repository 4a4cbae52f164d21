"""Workload identity: mappings (issuer + audience + subject rule -> one caller in one project
environment) and the RFC 8693 token exchange that turns a matching OIDC token into a
short-lived credential of that caller only.

Verification, in order: the token names an issuer some mapping trusts; its `alg` is an
asymmetric algorithm (never `none`, never HS*: an HS256 token "signed" with the issuer's
public key is refused before any key is touched); its `kid` is in the issuer's JWKS
(refetched once when unknown); the signature; exp, nbf and iat with LEEWAY; the audience of
a mapping; that mapping's subject rule; and last a jti never exchanged before. (issuer, jti)
is unique in the database, not in a cache: a cache may evict the entry and let a replay
through, the unique index cannot, and it holds across processes.

A refused token that names a known issuer is handled by what it proves
(projects/exchange_watch.py): refused before its signature verified, it is only counted
(health page, one finding per org and window); refused after (the issuer signed it), it
leaves an audit event and a key.exchange_failed notification in the org of each mapping
of that issuer, once per token and reason in a window. The endpoint is rate-limited per
client address and per issuer.
"""

import fnmatch
import logging
from datetime import timedelta

import jwt
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from orgs.audit import record_event
from orgs.events import NotificationEvent, event_emit
from orgs.models import Membership
from projects import exchange_watch
from projects.credentials import credentials_changed
from projects.jwks import JWKSUnavailable, check_url, find_key
from projects.models import Caller, WorkloadIdentity, WorkloadToken
from projects.permissions import can_admin_project, can_hold_keys, can_manage_keys
from projects.secrets import WORKLOAD, hash_secret, new_secret

log = logging.getLogger(__name__)

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
SUBJECT_TOKEN_TYPES = {"urn:ietf:params:oauth:token-type:jwt",
                       "urn:ietf:params:oauth:token-type:id_token"}
ISSUED_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
                        "ES384", "ES512", "EdDSA"})
LEEWAY = 30  # seconds of clock skew tolerated on exp, nbf and iat
MAX_LIFETIME = 3600
MIN_LIFETIME = 60


class ExchangeError(Exception):
    """An OAuth error response: {"error": code, "error_description": description}."""

    def __init__(self, code: str, description: str, status: int = 400,
                 retry_after: int | None = None):
        super().__init__(description)
        self.code, self.description, self.status = code, description, status
        self.retry_after = retry_after


# --- Mappings -------------------------------------------------------------------------------

def _check_identity(org, project, environment, caller, fields):
    if environment.project_id != project.pk:
        raise ValidationError({"environment": "Choose an environment of this project."})
    if caller.project_id != project.pk:
        raise ValidationError({"caller": "Choose a caller of this project."})
    if caller.kind == Caller.Kind.HUMAN or not can_hold_keys(caller.owner):
        raise ValidationError({"caller": "A workload identity maps to a machine caller whose "
                                         "owner may hold keys, never to a person."})
    check_url(fields["issuer"], "issuer")
    if fields.get("jwks_url"):
        check_url(fields["jwks_url"], "jwks_url")
    lifetime = fields.get("token_lifetime_seconds") or 900
    if not MIN_LIFETIME <= lifetime <= MAX_LIFETIME:
        raise ValidationError({"token_lifetime_seconds": "Between 60 and 3600 seconds."})


@transaction.atomic
def identity_create(*, org, actor: Membership, project, environment, caller,
                    **fields) -> WorkloadIdentity:
    """Project admins (who may also manage the environment's keys) map an issuer, audience
    and subject rule to one caller. Audits workload_identity.created."""
    for obj in (project, environment, caller):
        assert obj.org_id == org.pk, "objects must come from the org's selectors"
    if not (can_admin_project(actor, project) and can_manage_keys(actor, environment)):
        raise PermissionDenied("Only project admins who may manage this environment's keys "
                               "can add workload identities.")
    _check_identity(org, project, environment, caller, fields)
    identity = WorkloadIdentity(org=org, project=project, environment=environment,
                                caller=caller, created_by=actor.user, **fields)
    identity.issuer = identity.issuer.rstrip("/")
    identity.full_clean()
    identity.save()
    record_event(org=org, actor=actor, action="workload_identity.created", obj=identity,
                 changes={f: [None, str(getattr(identity, f))] for f in (
                     "issuer", "audience", "claim", "match", "pattern", "environment",
                     "caller", "token_lifetime_seconds")})
    return identity


@transaction.atomic
def identity_delete(*, org, actor: Membership, identity: WorkloadIdentity):
    """Project admins delete a mapping; the tokens it minted stop working at once.
    Audits workload_identity.deleted."""
    if not can_admin_project(actor, identity.project):
        raise PermissionDenied("Only project admins can delete workload identities.")
    revoked = WorkloadToken.objects.for_org(org).filter(
        identity=identity, revoked_at__isnull=True).update(revoked_at=timezone.now())
    record_event(org=org, actor=actor, action="workload_identity.deleted", obj=identity,
                 changes={"issuer": [identity.issuer, None], "pattern": [identity.pattern, None],
                          "tokens_revoked": revoked})
    identity.delete()
    credentials_changed()


def rule_matches(identity: WorkloadIdentity, claims: dict) -> bool:
    value = claims.get(identity.claim)
    if not isinstance(value, str):
        return False
    if identity.match == WorkloadIdentity.Match.GLOB:
        return fnmatch.fnmatchcase(value, identity.pattern)
    return value == identity.pattern


# --- Token exchange -------------------------------------------------------------------------

class Unverified(Exception):
    """A refusal before the signature verified: the token proves nothing, so it is only
    counted (_refuse_unverified)."""


def _refuse_unverified(identities, description: str):
    """Count the refusal (exchange_watch: the health page and one finding per org and
    window) and raise invalid_grant. Writes nothing in any org: anybody can send a token
    that merely names a trusted issuer, and none of its text may reach an org."""
    exchange_watch.record_unverified(i.org_id for i in identities)
    # No description in the log either: it may quote the token's header (its kid).
    log.info("Token exchange refused before its signature verified")
    raise ExchangeError("invalid_grant", description)


def _fail(identities, description: str, claims: dict, token: str):
    """A refusal of a token whose signature verified (the issuer really signed it):
    audit it and announce it in each org that trusts the issuer, the same token and
    reason once per window (a replayed token must not flood the append-only log), then
    raise invalid_grant."""
    subject = str(claims.get("sub", ""))[:200]  # verified, but still the issuer's words
    seen = set()
    for identity in identities:
        if identity.org_id in seen:
            continue
        seen.add(identity.org_id)
        if not exchange_watch.first_refusal(identity.org_id, token, description):
            continue
        with transaction.atomic():
            record_event(org=identity.org, actor=None, action="workload.exchange_failed",
                         obj=identity, changes={"reason": description, "subject": subject,
                                                "issuer": identity.issuer})
            event_emit(org=identity.org, kind="key.exchange_failed", subject=identity,
                       severity=NotificationEvent.Severity.WARNING,
                       payload={"reason": description, "issuer": identity.issuer,
                                "subject": subject, "identity": identity.name})
    log.info("Token exchange refused: %s", description)
    raise ExchangeError("invalid_grant", description)


def _verify_signature(token: str, header: dict, identities):
    """Raise Unverified(description) unless the token is signed by a key of the issuer."""
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise Unverified(f"Signing algorithm {alg!r} is not accepted; the issuer must sign "
                         "with an asymmetric algorithm such as RS256 or ES256.")
    try:
        jwk = find_key(identities[0], header.get("kid"))
    except JWKSUnavailable:
        raise Unverified("The issuer's signing keys could not be fetched.") from None
    if jwk is None:
        raise Unverified(f"The issuer has no signing key with kid {header.get('kid')!r}.")
    try:
        key = jwt.PyJWK(jwk, algorithm=alg).key
        jwt.PyJWS().decode_complete(token, key=key, algorithms=[alg])
    except jwt.InvalidSignatureError:
        raise Unverified("The subject token's signature does not verify.") from None
    except (jwt.InvalidTokenError, jwt.PyJWKError) as exc:
        raise Unverified(f"The subject token is not acceptable: {exc}") from None
    return key, alg


def _decode(token: str, header: dict, identities) -> dict:
    try:
        key, alg = _verify_signature(token, header, identities)
    except Unverified as exc:
        _refuse_unverified(identities, str(exc))
    # From here on the issuer signed the token: its claims are the issuer's, not a stranger's.
    verified = jwt.decode(token, options={"verify_signature": False})
    try:
        return jwt.decode(token, key=key, algorithms=[alg], issuer=identities[0].issuer,
                          leeway=LEEWAY, options={"verify_aud": False,
                                                  "require": ["exp", "iat", "jti", "sub"]})
    except jwt.ExpiredSignatureError:
        _fail(identities, "The subject token has expired (exp).", verified, token)
    except jwt.ImmatureSignatureError:
        _fail(identities, "The subject token is not valid yet (nbf or iat in the future).",
              verified, token)
    except jwt.MissingRequiredClaimError as exc:
        _fail(identities, f"The subject token lacks the '{exc.claim}' claim.", verified, token)
    except (jwt.InvalidTokenError, jwt.PyJWKError) as exc:
        _fail(identities, f"The subject token is not acceptable: {exc}", verified, token)


def _unverified(token: str) -> tuple[dict, str]:
    try:
        header = jwt.get_unverified_header(token)
        issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.InvalidTokenError:
        raise ExchangeError("invalid_request", "subject_token is not a JWT.") from None
    if not isinstance(issuer, str) or not issuer:
        raise ExchangeError("invalid_grant", "The subject token names no issuer (iss).")
    return header, issuer.rstrip("/")


def _limit(check, *args):
    try:
        check(*args)
    except exchange_watch.RateLimited as exc:
        raise ExchangeError("slow_down", exc.description, status=429,
                            retry_after=exc.retry_after) from None


def _check_request(grant_type: str, subject_token: str, subject_token_type: str):
    if grant_type != GRANT_TYPE:
        raise ExchangeError("unsupported_grant_type", f"grant_type must be {GRANT_TYPE}.")
    if not subject_token:
        raise ExchangeError("invalid_request", "subject_token is required.")
    if subject_token_type not in SUBJECT_TOKEN_TYPES:
        raise ExchangeError("invalid_request", "subject_token_type must be "
                            "urn:ietf:params:oauth:token-type:jwt (or id_token).")


def token_exchange(*, grant_type: str, subject_token: str, subject_token_type: str,
                   client: str | None = None) -> dict:
    """Anyone (no session: the subject token is the proof) exchanges an OIDC token for a
    credential of one mapped caller, valid at most MAX_LIFETIME seconds. `client` is the
    caller's address, for the rate limit. Returns the RFC 8693 response body; raises
    ExchangeError (429 with retry_after over a rate limit). Audits workload.exchanged, or
    workload.exchange_failed for a refused token whose signature verified; a token
    refused before that is only counted (exchange_watch)."""
    _limit(exchange_watch.check_address, client)
    _check_request(grant_type, subject_token, subject_token_type)
    header, issuer = _unverified(subject_token)
    # Global lookup by issuer: the token says who issued it; orgs are found from mappings.
    identities = list(WorkloadIdentity.objects.filter(issuer=issuer).select_related(
        "org", "project", "environment", "caller").order_by("pk"))
    if not identities:
        log.info("Token exchange refused: unknown issuer")
        raise ExchangeError("invalid_grant", "No workload identity trusts this issuer.")
    _limit(exchange_watch.check_issuer, issuer)
    claims = _decode(subject_token, header, identities)
    audiences = claims.get("aud")
    audiences = [audiences] if isinstance(audiences, str) else list(audiences or [])
    candidates = [i for i in identities if i.audience in audiences]
    if not candidates:
        _fail(identities, "The subject token's audience (aud) is not one a workload identity "
                          "of this issuer accepts.", claims, subject_token)
    matching = [i for i in candidates if rule_matches(i, claims)]
    if not matching:
        _fail(candidates, "The subject token's claims do not match any workload identity's "
                          "subject rule.", claims, subject_token)
    return _mint(matching[0], claims, subject_token)


def _mint(identity: WorkloadIdentity, claims: dict, token: str) -> dict:
    lifetime = min(identity.token_lifetime_seconds, MAX_LIFETIME)
    secret = new_secret(WORKLOAD)
    try:
        with transaction.atomic():
            token = WorkloadToken.objects.create(
                org=identity.org, identity=identity, project=identity.project,
                environment=identity.environment, caller=identity.caller,
                secret_hash=hash_secret(secret), issuer=identity.issuer,
                jti=str(claims["jti"])[:255], subject=str(claims.get("sub"))[:300],
                expires_at=timezone.now() + timedelta(seconds=lifetime))
            record_event(org=identity.org, actor=None, action="workload.exchanged",
                         obj=identity, changes={"subject": token.subject, "jti": token.jti,
                                                "token": str(token.public_id),
                                                "expires_at": token.expires_at})
    except IntegrityError:
        _fail([identity], "This subject token was already exchanged (jti replay).", claims,
              token)
    return {"access_token": secret, "issued_token_type": ISSUED_TOKEN_TYPE,
            "token_type": "Bearer", "expires_in": lifetime}
