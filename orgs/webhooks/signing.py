"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

Headers: webhook-id (same for every retry of a message), webhook-timestamp (unix seconds),
webhook-signature: space-separated `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`
where key is the base64-decoded part of the `whsec_...` secret.
"""

import base64
import hashlib
import hmac
import secrets

PREFIX = "whsec_"


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(PREFIX))
    content = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


def headers(secrets_: list[str], msg_id: str, timestamp: int, body: bytes) -> dict:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, msg_id, timestamp, body) for s in secrets_),
        "content-type": "application/json",
        "user-agent": "governance-webhooks/1",
    }
