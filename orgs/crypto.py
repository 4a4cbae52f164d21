"""Encryption for secrets we must be able to read back (webhook signing secrets, SSO client
secrets). Secrets we only compare (tokens, keys) are hashed instead, never encrypted.

Fernet (AES-128-CBC + HMAC-SHA256) from `cryptography`. The key is FIELD_ENCRYPTION_KEY,
one or more comma-separated Fernet keys (make one with
`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`);
the first encrypts, all decrypt. Unset, a key is derived from SECRET_KEY with HKDF and its
own salt, so rotating SECRET_KEY then makes stored secrets unreadable: set it in production.
"""

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class DecryptionError(Exception):
    """The stored value cannot be read with the configured key(s)."""


@lru_cache(maxsize=1)
def _fernet() -> MultiFernet:
    keys = [k.strip() for k in settings.FIELD_ENCRYPTION_KEY.split(",") if k.strip()]
    if not keys:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"governance-field-encryption",
                       info=b"fernet").derive(settings.SECRET_KEY.encode())
        keys = [base64.urlsafe_b64encode(derived).decode()]
    try:
        # The first key encrypts; all of them decrypt, so keys can be rotated.
        return MultiFernet([Fernet(k) for k in keys])
    except ValueError:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY must be Fernet keys (32 url-safe "
                                   "base64 bytes), comma-separated") from None


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError("Stored secret cannot be decrypted with FIELD_ENCRYPTION_KEY") \
            from None
