"""The secret format of team API keys and exchanged workload tokens, and how they are hashed.

    gvk_live_<32 base62 random><6 base62 checksum>   production-tier key
    gvk_test_<32 base62 random><6 base62 checksum>   development or staging key
    gvt_<32 base62 random><6 base62 checksum>        workload token (token exchange)

The checksum is the CRC32 of everything before it, in base62 and zero-padded (GitHub's
token scheme), so a secret scanner can tell a real key from a look-alike offline and we
can refuse typos without touching the database. The regex for scanners is KEY_PATTERN.

Only HMAC-SHA256(pepper, secret) is stored. The secrets carry 190 bits of randomness, so a
fast keyed hash is enough (no password stretching), and without the pepper, which never
enters the database, a stolen table cannot even be checked against guesses.
"""

import hashlib
import hmac
import re
import secrets
import zlib
from functools import lru_cache

from django.conf import settings
from django.utils.crypto import salted_hmac

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_LENGTH = 32
CHECKSUM_LENGTH = 6
LIVE, TEST, WORKLOAD = "gvk_live_", "gvk_test_", "gvt_"
KEY_PATTERN = re.compile(r"\bgv(?:k_(?:live|test)|t)_[0-9A-Za-z]{38}\b")
_SHAPE = re.compile(r"^(gvk_live_|gvk_test_|gvt_)([0-9A-Za-z]{32})([0-9A-Za-z]{6})$")
VISIBLE = 8  # random characters shown after the kind prefix, e.g. gvk_live_3kP9xQ2a…


def _base62(number: int, width: int) -> str:
    out = []
    while number:
        number, rest = divmod(number, 62)
        out.append(ALPHABET[rest])
    return "".join(reversed(out)).rjust(width, "0")


def checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), CHECKSUM_LENGTH)


def new_secret(kind: str) -> str:
    """A fresh secret of kind LIVE, TEST or WORKLOAD."""
    body = kind + "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return body + checksum(body)


def kind_of(secret: str) -> str | None:
    """The kind prefix when the secret is well formed and its checksum holds, else None."""
    match = _SHAPE.match(secret or "")
    if not match or not hmac.compare_digest(checksum(match[1] + match[2]), match[3]):
        return None
    return match[1]


def visible_prefix(secret: str) -> str:
    kind = kind_of(secret) or ""
    return secret[: len(kind) + VISIBLE]


@lru_cache(maxsize=4)
def _pepper(configured: str, secret_key: str) -> bytes:
    if configured:
        return configured.encode()
    # Derived from SECRET_KEY with a salt of its own; see docs/keys.md on rotating it.
    return salted_hmac("governance.projects.key-pepper", "pepper", secret=secret_key,
                       algorithm="sha256").digest()


def hash_secret(secret: str) -> str:
    """HMAC-SHA256(pepper, secret) in hex: what the database stores and is searched by."""
    pepper = _pepper(settings.KEY_PEPPER, settings.SECRET_KEY)
    return hmac.new(pepper, secret.encode(), hashlib.sha256).hexdigest()
