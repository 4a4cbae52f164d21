"""Typed readers for environment variables.

Each helper raises ImproperlyConfigured with the variable's name and the bad value's
problem, so a typo in a deployment fails at start-up instead of at the first request.
"""

import base64
import binascii
import os
import re
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be one of true/false/1/0/yes/no/on/off, not {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


_RATE = re.compile(r"^[1-9]\d*/([1-9]\d*)?[smhd]$")


def env_rate(name: str, default: str) -> str:
    """A rate limit like "60/m" or "20/300s" (amount/window, units s m h d); empty: off."""
    value = os.environ.get(name, default).strip()
    if value and not _RATE.match(value):
        raise ImproperlyConfigured(f"{name} must look like 60/m or 20/300s (amount/window), "
                                   f"not {value!r}")
    return value


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_networks(name: str, default: list[str] | None = None) -> list[str]:
    """A comma-separated list of CIDR networks (10.1.0.0/16, ::1/128), checked now."""
    import ipaddress

    items = env_list(name, default)
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ImproperlyConfigured(f"{name} must list networks like 10.1.0.0/16 or "
                                       f"127.0.0.1/32, not {item!r}") from None
    return items


def env_url(name: str, default: str = "", *, schemes: tuple[str, ...] = ("http", "https")) -> str:
    raw = os.environ.get(name, default).strip()
    if not raw:
        return raw
    parsed = urlparse(raw)
    if parsed.scheme not in schemes or not parsed.netloc:
        raise ImproperlyConfigured(
            f"{name} must be a URL starting with {' or '.join(s + '://' for s in schemes)}, "
            f"not {raw!r}"
        )
    return raw.rstrip("/")


def email_config(url: str) -> dict:
    """Turn EMAIL_URL into Django email settings.

    `console://` (the default) prints mail to the terminal; `smtp://user:pass@host:587`
    and `smtps://...` send it; `?tls=1` turns on STARTTLS; `memory://` keeps it in
    django.core.mail.outbox (tests).
    """
    parsed = urlparse(url)
    backends = {
        "console": "django.core.mail.backends.console.EmailBackend",
        "memory": "django.core.mail.backends.locmem.EmailBackend",
        "smtp": "django.core.mail.backends.smtp.EmailBackend",
        "smtps": "django.core.mail.backends.smtp.EmailBackend",
    }
    if parsed.scheme not in backends:
        raise ImproperlyConfigured(
            f"EMAIL_URL must start with console://, memory://, smtp:// or smtps://, not {url!r}"
        )
    config = {"EMAIL_BACKEND": backends[parsed.scheme]}
    if parsed.scheme.startswith("smtp"):
        if not parsed.hostname:
            raise ImproperlyConfigured(f"EMAIL_URL needs a host: {url!r}")
        query = parse_qs(parsed.query)
        config.update(
            EMAIL_HOST=parsed.hostname,
            EMAIL_PORT=parsed.port or (465 if parsed.scheme == "smtps" else 25),
            EMAIL_HOST_USER=unquote(parsed.username or ""),
            EMAIL_HOST_PASSWORD=unquote(parsed.password or ""),
            EMAIL_USE_SSL=parsed.scheme == "smtps",
            EMAIL_USE_TLS=query.get("tls", ["0"])[0].lower() in _TRUE,
        )
    return config


def cache_config(url: str, key_prefix: str = "") -> dict:
    """Turn CACHE_URL into Django's CACHES.

    `locmem://` (the default) is one process's memory: fine for a first run, but API key
    revocations then reach other processes only when their local cache entry expires, so
    production uses `redis://host:6379/N` (or `rediss://`), shared by every process.
    """
    parsed = urlparse(url)
    if parsed.scheme == "locmem":
        return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                            "LOCATION": parsed.netloc or "governance",
                            "KEY_PREFIX": key_prefix}}
    if parsed.scheme in ("redis", "rediss") and parsed.hostname:
        return {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                            "LOCATION": url, "KEY_PREFIX": key_prefix,
                            # Fail fast: a stalled cache must not stall every request.
                            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2}}}
    raise ImproperlyConfigured(
        f"CACHE_URL must be locmem:// or redis://host:6379/N (or rediss://), not {url!r}"
    )


def env_nameservers(name: str) -> list[tuple[str, int]]:
    """DNS servers as (ip, port) pairs from "127.0.0.1:5399,10.0.0.2" (port 53 by default);
    empty: use the system resolver."""
    import ipaddress

    servers = []
    for item in env_list(name, []):
        host, _, port = item.rpartition(":") if item.count(":") == 1 else (item, "", "53")
        try:
            ipaddress.ip_address(host)
            number = int(port or 53)
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {item!r} is not IP[:port]") from None
        if not 0 < number < 65536:
            raise ImproperlyConfigured(f"{name}: port {number} is out of range")
        servers.append((host, number))
    return servers
def env_ed25519_key(name: str) -> str:
    """An Ed25519 private key as base64 of its 32 raw bytes, from NAME or from the file
    that NAME_FILE names (a mounted secret); "" when neither is set. Never a default."""
    raw = os.environ.get(name, "").strip()
    path = os.environ.get(f"{name}_FILE", "").strip()
    if raw and path:
        raise ImproperlyConfigured(f"Set {name} or {name}_FILE, not both")
    if path:
        try:
            with open(path, encoding="ascii") as fh:
                raw = fh.read().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ImproperlyConfigured(
                f"{name}_FILE cannot be read ({type(exc).__name__}): {path!r}") from None
        where = f"the file {name}_FILE names"
    else:
        where = name
    if not raw:
        return ""
    try:
        size = len(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError):
        raise ImproperlyConfigured(f"{where} must be base64 of a 32-byte Ed25519 key") from None
    if size != 32:
        raise ImproperlyConfigured(
            f"{where} must be base64 of a 32-byte Ed25519 key, not {size} bytes")
    return raw
