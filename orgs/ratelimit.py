"""Fixed-window rate limits counted in the shared cache (Redis in production), so a limit
holds across every process and host that shares CACHE_URL.

Used by the token exchange (per client address and per issuer) and by the throttle of
failed personal-token and team-key authentications (per client address). allauth's own
limiter (which throttles failed sign-ins) is internal to allauth, takes a cache lock and
sleeps on contention, and cannot say when to retry; this one costs one atomic `incr` per
counted hit, one `get` per check, and answers the seconds until the window ends, which
the API sends as `Retry-After`.

A rate is written like allauth's: "60/m", "600/5m", "20/300s" (amount / window, the
units s, m, h, d). An empty rate turns the limit off. Identifiers (an address, an issuer
URL) are hashed into the key, so no attacker-chosen text lands in a cache key.

If the cache cannot be reached the limit lets the request through (fail open): a cache
outage must not take down the token exchange or every API script; the outage itself is
what /healthz reports.
"""

import hashlib
import logging
import math
import time
from dataclasses import dataclass

from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

log = logging.getLogger(__name__)

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Rate:
    amount: int
    seconds: int

    def __str__(self):
        return f"{self.amount}/{self.seconds}s"


def parse_rate(text: str) -> Rate | None:
    """"60/m" -> Rate(60, 60); "" -> None (no limit). Bad text raises ImproperlyConfigured,
    so a typo in settings stops start-up instead of silently turning a limit off."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        amount, window = text.split("/")
        unit = window[-1]
        count = int(window[:-1] or 1)
        rate = Rate(int(amount), count * UNITS[unit])
    except (ValueError, KeyError, IndexError):
        raise ImproperlyConfigured(f"Bad rate {text!r}: use amount/window, e.g. 60/m or "
                                   "20/300s") from None
    if rate.amount < 1 or rate.seconds < 1:
        raise ImproperlyConfigured(f"Bad rate {text!r}: amount and window must be positive")
    return rate


def clock() -> float:
    """The clock of every window (tests freeze it, so no window ends mid-test)."""
    return time.time()


def _window(rate: Rate, now: float) -> tuple[int, int]:
    """(index of the current window, seconds until it ends, at least 1)."""
    index = int(now // rate.seconds)
    return index, max(1, math.ceil((index + 1) * rate.seconds - now))


def key(scope: str, ident: str, rate: Rate, now: float | None = None) -> str:
    """The cache key of ident's counter in the current window of rate."""
    index, _ = _window(rate, clock() if now is None else now)
    digest = hashlib.sha256(str(ident).encode()).hexdigest()[:32]
    return f"ratelimit:{scope}:{rate}:{digest}:{index}"


def hit(scope: str, ident: str, rate: Rate | None) -> int | None:
    """Count one hit of ident; None while within the rate, else the seconds to wait
    (the hit that goes over is refused too)."""
    if rate is None:
        return None
    now = clock()
    cache_key = key(scope, ident, rate, now)
    _, retry_after = _window(rate, now)
    try:
        cache.add(cache_key, 0, timeout=rate.seconds + 1)
        count = cache.incr(cache_key)
    except ValueError:  # evicted between add and incr: this is the window's first hit
        return None
    except Exception as exc:  # the cache is down: fail open (see the module docstring)
        log.warning("Rate limit %s not counted: %s", scope, type(exc).__name__)
        return None
    return retry_after if count > rate.amount else None


def exceeded(scope: str, ident: str, rate: Rate | None) -> int | None:
    """Without counting: the seconds to wait if ident already used up the window, else
    None (read with the same key as hit())."""
    if rate is None:
        return None
    now = clock()
    try:
        count = cache.get(key(scope, ident, rate, now)) or 0
    except Exception as exc:
        log.warning("Rate limit %s not read: %s", scope, type(exc).__name__)
        return None
    return _window(rate, now)[1] if count >= rate.amount else None


def over(count, rate: Rate | None, now: float | None = None) -> int | None:
    """For a caller that read the counter itself (in a batch of cache reads): the seconds
    to wait if count used up the window, else None."""
    if rate is None or (count or 0) < rate.amount:
        return None
    return _window(rate, clock() if now is None else now)[1]


# Failed personal-token and team-key authentications share one counter per client
# address (settings.FAILED_TOKEN_AUTH_RATE): a script guessing either kind is throttled.
FAILED_AUTH = "token-auth-failed"
FAILED_AUTH_MESSAGE = "Too many failed token authentications from your address."


def failed_auth_rate() -> Rate | None:
    from django.conf import settings

    return parse_rate(settings.FAILED_TOKEN_AUTH_RATE)


def failed_auth_blocked(address: str | None) -> int | None:
    """Seconds to wait if this address used up its failed authentications, else None."""
    return exceeded(FAILED_AUTH, address or "unknown", failed_auth_rate())


def failed_auth_record(address: str | None) -> None:
    """Count one failed token authentication from this address."""
    hit(FAILED_AUTH, address or "unknown", failed_auth_rate())
