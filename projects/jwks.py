"""Fetching and caching an issuer's signing keys (OIDC discovery and JWKS).

Documents are cached in the Django cache for an hour. A token whose `kid` is not in the
cached set triggers one refetch (the issuer may have rotated its keys), at most once per
REFRESH_MIN_SECONDS per JWKS URL, so a flood of made-up kids cannot make us hammer the
issuer. Only https URLs are fetched; plain http to a loopback address (a local test
issuer) only with settings.WORKLOAD_ALLOW_LOCAL_ISSUERS.
"""

import hashlib
import ipaddress
import logging
from urllib.parse import urlparse

import requests
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError

log = logging.getLogger(__name__)

CACHE_SECONDS = 3600
REFRESH_MIN_SECONDS = 10
TIMEOUT = (2, 3)  # connect, read (seconds): the exchange endpoint must answer quickly
MAX_BYTES = 512 * 1024


class JWKSUnavailable(Exception):
    """The issuer's discovery document or key set could not be fetched or read."""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, field: str):
    """Refuse URLs we would not fetch: https only (http to loopback when allowed)."""
    parsed = urlparse(url or "")
    if parsed.scheme == "https" and parsed.hostname:
        return
    if (parsed.scheme == "http" and parsed.hostname and _is_loopback(parsed.hostname)
            and settings.WORKLOAD_ALLOW_LOCAL_ISSUERS):
        return
    raise ValidationError({field: "Use an https:// URL."})


def _key(kind: str, url: str) -> str:
    return f"projects:{kind}:{hashlib.sha256(url.encode()).hexdigest()[:32]}"


def _get_json(url: str) -> dict:
    check_url(url, "url")
    try:
        response = requests.get(url, timeout=TIMEOUT, allow_redirects=False,
                                headers={"Accept": "application/json"})
        response.raise_for_status()
        if len(response.content) > MAX_BYTES:
            raise JWKSUnavailable("document too large")
        document = response.json()
    except (requests.RequestException, ValueError) as exc:
        log.warning("Could not fetch %s: %s", url, type(exc).__name__)
        raise JWKSUnavailable(type(exc).__name__) from None
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
