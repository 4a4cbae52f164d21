"""Fetching and caching an issuer's signing keys (OIDC discovery and JWKS).

Documents are cached in the Django cache for an hour. A token whose `kid` is not in the
cached set triggers one refetch (the issuer may have rotated its keys), at most once per
REFRESH_MIN_SECONDS per JWKS URL, so a flood of made-up kids cannot make us hammer the
issuer. Only https URLs are fetched, through orgs/outbound.py (public addresses only,
pinned, no redirects, time and size capped); plain http only to an address inside
settings.OUTBOUND_ALLOWED_NETWORKS (a local test issuer).
"""

import hashlib
import logging
from urllib.parse import urlparse

from django.core.cache import cache
from django.core.exceptions import ValidationError

from orgs import outbound

log = logging.getLogger(__name__)

CACHE_SECONDS = 3600
REFRESH_MIN_SECONDS = 10
TIMEOUT = 5  # seconds for the whole fetch: the exchange endpoint must answer quickly
MAX_BYTES = 512 * 1024


class JWKSUnavailable(Exception):
    """The issuer's discovery document or key set could not be fetched or read."""


def check_url(url: str, field: str):
    """Refuse URLs we would not fetch (ValidationError on field): https to public
    addresses; plain http only to addresses inside OUTBOUND_ALLOWED_NETWORKS."""
    parsed = urlparse(url or "")
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValidationError({field: "Use an https:// URL."})
    try:
        addresses = outbound.check(url)
    except outbound.OutboundRefused as exc:
        raise ValidationError({field: str(exc)}) from None
    if parsed.scheme == "http" and not all(outbound.is_explicitly_allowed(a)
                                           for a in addresses):
        raise ValidationError({field: "Use an https:// URL."})


def _key(kind: str, url: str) -> str:
    return f"projects:{kind}:{hashlib.sha256(url.encode()).hexdigest()[:32]}"


def _get_json(url: str) -> dict:
    try:
        check_url(url, "url")
        response = outbound.fetch("GET", url, timeout=TIMEOUT, max_bytes=MAX_BYTES,
                                  headers={"Accept": "application/json"})
        if response.status != 200:
            raise JWKSUnavailable(f"HTTP {response.status}")
        document = response.json()
    except ValidationError as exc:
        log.warning("Refused to fetch from %s", urlparse(url).hostname)
        raise JWKSUnavailable("; ".join(exc.messages)) from None
    except outbound.OutboundError as exc:
        log.warning("Could not fetch from %s: %s", urlparse(url).hostname, exc.reason)
        raise JWKSUnavailable(exc.reason) from None
    except ValueError:
        raise JWKSUnavailable("not JSON") from None
    if not isinstance(document, dict):
        raise JWKSUnavailable("not a JSON object")
    return document


def jwks_uri(identity) -> str:
    """The identity's JWKS URL, or the one its issuer's discovery document names."""
    if identity.jwks_url:
        return identity.jwks_url
    issuer = identity.issuer.rstrip("/")
    key = _key("oidc-config", issuer)
    uri = cache.get(key)
    if uri is None:
        uri = _get_json(f"{issuer}/.well-known/openid-configuration").get("jwks_uri")
        if not isinstance(uri, str):
            raise JWKSUnavailable("discovery document has no jwks_uri")
        check_url(uri, "jwks_uri")
        cache.set(key, uri, CACHE_SECONDS)
    return uri


def _fetch_keys(uri: str) -> list[dict]:
    keys = _get_json(uri).get("keys")
    if not isinstance(keys, list):
        raise JWKSUnavailable("JWKS has no keys list")
    keys = [k for k in keys if isinstance(k, dict)]
    cache.set(_key("jwks", uri), keys, CACHE_SECONDS)
    return keys


def find_key(identity, kid: str | None) -> dict | None:
    """The JWK with this kid (or the only key, when the token names none), refetching the
    set once if the kid is unknown. None when the issuer does not have it."""
    uri = jwks_uri(identity)
    keys = cache.get(_key("jwks", uri))
    fetched = keys is None
    if fetched:
        keys = _fetch_keys(uri)
    found = _pick(keys, kid)
    if found is None and not fetched and cache.add(_key("jwks-refresh", uri), 1,
                                                   REFRESH_MIN_SECONDS):
        found = _pick(_fetch_keys(uri), kid)
    return found


def _pick(keys: list[dict], kid: str | None) -> dict | None:
    if kid is None:
        return keys[0] if len(keys) == 1 else None
    return next((k for k in keys if k.get("kid") == kid), None)
