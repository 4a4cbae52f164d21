"""The org's smoke-test gateway: an OpenAI-compatible base URL, a test key (encrypted) and
a timeout. Org admins set it on /o/<org>/settings/gateway/ (evidence/views_gateway.py);
the smoke runs of approvals/ read it with gateway_config_get and gateway_key.

The key is a secret we must send, so it is encrypted (orgs/crypto.py), never compared,
never shown again, never logged and never in an audit event (which says only "replaced").
The base URL follows the outbound policy of orgs/outbound.py: loopback, private and
link-local addresses are refused unless they lie in OUTBOUND_ALLOWED_NETWORKS; checked on
save, before every run and, pinned to the checked address, on every request.
"""

from urllib.parse import urlsplit, urlunsplit

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from evidence.models import GatewayConfig
from orgs.audit import diff, record_event
from orgs.crypto import decrypt, encrypt
from orgs.events import event_emit
from orgs.outbound import validate_url

MIN_TIMEOUT, MAX_TIMEOUT = 1, 120
MAX_KEY_LENGTH = 500


def can_configure_gateway(actor) -> bool:
    """Org admins and owners (org:write) set the gateway; every member reads its URL."""
    return actor is not None and actor.has_scope("org:write")


def gateway_config_get(*, org) -> GatewayConfig | None:
    """The org's gateway configuration, or None when it has none (one query)."""
    return GatewayConfig.objects.for_org(org).first()


def gateway_key(config: GatewayConfig) -> str:
    """The decrypted test key, for the request's Authorization header only."""
    return decrypt(config.key_encrypted)


def check_gateway_url(url: str) -> None:
    """The outbound policy (orgs/outbound.py) on field base_url (raises ValidationError)."""
    validate_url(url, field="base_url")


def _clean_url(url: str) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError({"base_url": "Give the gateway's http:// or https:// base URL, "
                                           "e.g. https://gateway.example/v1."})
    if parts.username or parts.password:
        raise ValidationError({"base_url": "Put the key in the key field, never in the URL."})
    if parts.query or parts.fragment:
        raise ValidationError({"base_url": "A base URL has no ?query or #fragment."})
    try:
        parts.port  # noqa: B018 -- raises ValueError on a bad port
    except ValueError:
        raise ValidationError({"base_url": "The port is not a number from 1 to 65535."}) \
            from None
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def _check(*, base_url: str, key: str, timeout_seconds, has_key: bool) -> str:
    errors = {}
    if (not isinstance(timeout_seconds, int) or isinstance(timeout_seconds, bool)
            or not MIN_TIMEOUT <= timeout_seconds <= MAX_TIMEOUT):
        errors["timeout_seconds"] = (f"Give a whole number of seconds from {MIN_TIMEOUT} to "
                                     f"{MAX_TIMEOUT}.")
    if not key and not has_key:
        errors["key"] = "Give the gateway key the smoke tests use."
    elif key and (len(key) > MAX_KEY_LENGTH or any(c.isspace() for c in key)):
        errors["key"] = f"A key is one word of at most {MAX_KEY_LENGTH} characters."
    try:
        base_url = _clean_url(base_url)
        check_gateway_url(base_url)
    except ValidationError as exc:
        errors.update({k: v[0] for k, v in exc.message_dict.items()})
    if errors:
        raise ValidationError(errors)
    return base_url


@transaction.atomic
def gateway_config_update(*, org, actor, base_url: str, timeout_seconds: int,
                          key: str = "") -> GatewayConfig:
    """Org admins and owners set the gateway: base URL (SSRF rule), timeout (1-120 s) and,
    when `key` is given, a new test key (required the first time; empty keeps the stored
    one). Field errors, nothing saved on any. Audits and emits evidence.gateway_updated;
    the key appears in them only as "replaced"."""
    if actor is None or actor.org_id != org.pk or not can_configure_gateway(actor):
        raise PermissionDenied("Only org admins and owners configure the gateway.")
    config = GatewayConfig.objects.for_org(org).select_for_update().first()
    key = (key or "").strip()
    base_url = _check(base_url=base_url, key=key, timeout_seconds=timeout_seconds,
                      has_key=config is not None)
    now = timezone.now()
    before = ({"base_url": config.base_url, "timeout_seconds": config.timeout_seconds}
              if config else {"base_url": None, "timeout_seconds": None})
    if config is None:
        config = GatewayConfig(org=org)
    config.base_url, config.timeout_seconds = base_url, timeout_seconds
    config.updated_at, config.updated_by = now, actor
    if key:
        config.key_encrypted, config.key_set_at, config.key_set_by = encrypt(key), now, actor
    changes = diff(before, {"base_url": base_url, "timeout_seconds": timeout_seconds})
    if key:
        changes["key"] = ["stored" if before["base_url"] else None, "replaced"]
    config.save()
    if changes:
        record_event(org=org, actor=actor, action="evidence.gateway_updated", obj=config,
                     changes=changes)
        event_emit(org=org, kind="evidence.gateway_updated", subject=config,
                   payload={"base_url": base_url, "timeout_seconds": timeout_seconds,
                            "key_replaced": bool(key)})
    return config
