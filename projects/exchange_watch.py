"""What guards the anonymous token exchange (POST /api/v1/oauth/token) against floods.

- Rate limits (orgs/ratelimit.py): every request counts against its client address
  (settings.TOKEN_EXCHANGE_RATE_PER_ADDRESS) and every request naming a trusted issuer
  against that issuer (TOKEN_EXCHANGE_RATE_PER_ISSUER); over either: 429 + Retry-After.
- Unverified refusals: a token refused before its signature verified (unknown kid, bad
  signature, a refused alg, keys that could not be fetched) proves nothing about who sent
  it, so it writes nothing in any org. It is counted here instead, in the shared cache,
  per window of UNVERIFIED_EXCHANGE_WINDOW_SECONDS: once overall (GET /healthz shows it)
  and once per org that trusts the issuer. A beat task of approvals/ turns an org's count
  into at most one finding per window (approvals/exchange_findings.py), with the count and
  no claim text.
- Verified refusals (expired, wrong audience, no matching subject rule, a replayed jti)
  come from the issuer itself and are audited in each org, but the same token refused for
  the same reason is audited once per window (first_refusal), so a replayed token cannot
  flood the append-only audit log either.
"""

import hashlib
import logging

from django.conf import settings
from django.core.cache import cache

from orgs import ratelimit

log = logging.getLogger(__name__)

PREFIX = "projects:exchange-unverified"


class RateLimited(Exception):
    def __init__(self, retry_after: int, description: str):
        super().__init__(description)
        self.retry_after, self.description = retry_after, description


def _rate(name: str):
    return ratelimit.parse_rate(getattr(settings, name))


def check_address(client: str | None):
    """Count one exchange request from client; raise RateLimited over the limit."""
    wait = ratelimit.hit("exchange-address", client or "unknown", _rate(
        "TOKEN_EXCHANGE_RATE_PER_ADDRESS"))
    if wait:
        raise RateLimited(wait, f"Too many token exchange requests from your address. "
                                f"Retry in {wait} seconds.")


def check_issuer(issuer: str):
    """Count one exchange request naming this (trusted) issuer; RateLimited over it."""
    wait = ratelimit.hit("exchange-issuer", issuer, _rate("TOKEN_EXCHANGE_RATE_PER_ISSUER"))
    if wait:
        raise RateLimited(wait, f"Too many token exchange requests for this issuer. "
                                f"Retry in {wait} seconds.")


def window_seconds() -> int:
    return settings.UNVERIFIED_EXCHANGE_WINDOW_SECONDS


def window_index(now: float | None = None) -> int:
    return int((ratelimit.clock() if now is None else now) // window_seconds())


def _key(scope: str, index: int) -> str:
    return f"{PREFIX}:{scope}:{index}"


def record_unverified(org_ids) -> None:
    """Count one unverified refusal overall and for each org (cache only, no database)."""
    index = window_index()
    keys = [_key("all", index), *(_key(f"org:{pk}", index) for pk in set(org_ids))]
    try:
        for cache_key in keys:
            cache.add(cache_key, 0, timeout=3 * window_seconds())
            cache.incr(cache_key)
    except Exception as exc:  # counting must never turn a refusal into a 500
        log.warning("Unverified exchange not counted: %s", type(exc).__name__)


def unverified_counts(org_ids=(), *, index: int | None = None) -> dict:
    """{"all": n, org_id: n, ...} for one window (the current one by default)."""
    index = window_index() if index is None else index
    keys = {"all": _key("all", index), **{pk: _key(f"org:{pk}", index) for pk in org_ids}}
    values = cache.get_many(list(keys.values()))
    return {name: values.get(cache_key, 0) for name, cache_key in keys.items()}


def unverified_metric() -> dict:
    """For /healthz: refused exchanges whose signature did not verify, this window and the
    one before, with the window's length. Never raises (a health check must answer)."""
    index = window_index()
    try:
        current = unverified_counts(index=index)["all"]
        previous = unverified_counts(index=index - 1)["all"]
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    return {"window_seconds": window_seconds(), "current_window": current,
            "previous_window": previous}


def first_refusal(org_id, token: str, reason: str) -> bool:
    """True the first time this token is refused for this reason in this org within the
    window: only then is the refusal audited and announced."""
    digest = hashlib.sha256(f"{org_id}:{reason}:{token}".encode()).hexdigest()[:40]
    try:
        return cache.add(f"projects:exchange-refused:{digest}", 1, timeout=window_seconds())
    except Exception:
        return True  # without the cache, audit rather than lose a refusal
