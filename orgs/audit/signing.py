"""The Ed25519 key that signs audit checkpoints, and the signed payload.

The private key lives outside the database (settings.AUDIT_SIGNING_KEY, read from the
environment or a file by governance/env.py), so somebody who can only write to the
database cannot sign a checkpoint for a chain they rewrote. Verification needs only the
public key: an auditor holds it as a file (`manage.py audit_checkpoint --public-key`
prints it) and passes it to `verify_audit_chain --public-key FILE`.
"""

import base64
import binascii
import hashlib
import json

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from django.conf import settings

CHECKPOINT_FORMAT = "governance-audit-checkpoint/1"
SIGNED_FIELDS = ("format", "org", "seq", "hash", "signed_at", "key")


class AuditKeyError(ValueError):
    """A key that cannot be read; the message says what is wrong with it."""


def private_key_from_text(text: str) -> Ed25519PrivateKey:
    """The private key from its base64 raw form (32 bytes), as settings hold it."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise AuditKeyError("the audit signing key is not base64") from None
    if len(raw) != 32:
        raise AuditKeyError(f"the audit signing key must be 32 bytes, not {len(raw)}")
    return Ed25519PrivateKey.from_private_bytes(raw)


def signing_key() -> Ed25519PrivateKey | None:
    """The configured private key, or None when checkpoints are not configured."""
    text = settings.AUDIT_SIGNING_KEY
    return private_key_from_text(text) if text else None


def public_key_from_text(text: str) -> Ed25519PublicKey:
    """A public key from PEM (SubjectPublicKeyInfo) or base64 of its 32 raw bytes."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text.encode())
        except ValueError:
            raise AuditKeyError("the public key file is not a valid PEM public key") from None
        if not isinstance(key, Ed25519PublicKey):
            raise AuditKeyError("the public key is not an Ed25519 key")
        return key
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise AuditKeyError("the public key is neither PEM nor base64") from None
    if len(raw) != 32:
        raise AuditKeyError(f"an Ed25519 public key is 32 bytes, not {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def public_key_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def key_id(key: Ed25519PublicKey) -> str:
    """A short fingerprint: the first 16 hex digits of SHA-256 of the raw public key."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def signed_bytes(entry: dict) -> bytes:
    """What the signature covers: canonical JSON of the entry's SIGNED_FIELDS."""
    body = {name: entry.get(name) for name in SIGNED_FIELDS}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def sign(entry: dict, key: Ed25519PrivateKey) -> str:
    return base64.b64encode(key.sign(signed_bytes(entry))).decode()


def signature_valid(entry: dict, keys: dict[str, Ed25519PublicKey]) -> bool:
    """Whether entry carries a valid signature by the key its "key" field names."""
    # A line of the checkpoint file is untrusted input: any JSON types may be in it.
    name, signature = entry.get("key"), entry.get("signature")
    key = keys.get(name) if isinstance(name, str) else None
    if key is None or not isinstance(signature, str):
        return False
    try:
        key.verify(base64.b64decode(signature, validate=True), signed_bytes(entry))
    except (InvalidSignature, binascii.Error, ValueError, TypeError):
        return False
    return True
