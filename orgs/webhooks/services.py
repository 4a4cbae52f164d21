"""Webhook endpoints and deliveries. Exactly-once per (endpoint, event): the fan-out claims
each outbox event with a conditional update and creates deliveries under a unique
constraint; a delivery attempt claims its row with a lease (next_attempt_at pushed ahead),
so two workers never send the same attempt, and a worker that dies mid-send leaves a
lease that expires and is retried. Receivers must still de-duplicate by webhook-id: a
crash after the receiver answered but before we recorded it sends the message again."""

import json
import time
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from orgs import outbound
from orgs.audit import diff, record_event
from orgs.crypto import decrypt, encrypt
from orgs.events import NotificationEvent, event_emit
from orgs.models import Membership
from orgs.scoping import require_member
from orgs.webhooks import signing
from orgs.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

MAX_ATTEMPTS = 5
# Waits after attempts 1-4: about 21 hours from first try to giving up.
BACKOFF = [timedelta(minutes=10), timedelta(hours=1), timedelta(hours=4), timedelta(hours=16)]
LEASE = timedelta(seconds=90)  # longer than TIMEOUT: a live attempt is never taken twice
TIMEOUT = 10  # seconds for the whole attempt (orgs/outbound.py caps connect and read)
MAX_RESPONSE = 256 * 1024  # receivers answer with a status; we keep 500 characters
ROTATION_OVERLAP = timedelta(hours=24)
MAX_ENDPOINTS = 20


def _require(actor: Membership):
    if not actor.has_scope("org:write"):
        raise PermissionDenied("Only org admins and owners manage webhooks.")


def _clean_types(event_types) -> list[str]:
    types = sorted({t.strip().lower() for t in (event_types or []) if t and t.strip()})
    bad = [t for t in types if not t.replace(".", "").replace("_", "").isalpha()]
    if bad:
        raise ValidationError({"event_types": f"Not an event type: {', '.join(bad)}."})
    return types


@transaction.atomic
def endpoint_create(*, org, actor: Membership, url: str, description: str = "",
                    event_types=None) -> tuple[WebhookEndpoint, str]:
    """Org admins add an endpoint; returns (endpoint, secret). The secret is shown once and
    stored encrypted (it must sign every delivery). Audits webhook.created."""
    require_member(org, actor)
    _require(actor)
    outbound.validate_url(url)
    if WebhookEndpoint.objects.for_org(org).count() >= MAX_ENDPOINTS:
        raise ValidationError({"url": f"An organization has at most {MAX_ENDPOINTS} endpoints."})
    secret = signing.new_secret()
    endpoint = WebhookEndpoint(org=org, url=url, description=description,
                               event_types=_clean_types(event_types),
                               secret_encrypted=encrypt(secret))
    endpoint.full_clean()
    endpoint.save()
    record_event(org=org, actor=actor, action="webhook.created", obj=endpoint,
                 changes={"url": [None, url], "event_types": [None, endpoint.event_types]})
    return endpoint, secret


@transaction.atomic
def endpoint_update(*, org, actor: Membership, endpoint: WebhookEndpoint, url: str,
                    description: str = "", event_types=None) -> WebhookEndpoint:
    """Change URL, description or event types. Audits webhook.updated."""
    require_member(org, actor)
    _require(actor)
    outbound.validate_url(url)
    endpoint = WebhookEndpoint.objects.for_org(org).select_for_update().get(pk=endpoint.pk)
    before = {"url": endpoint.url, "description": endpoint.description,
              "event_types": endpoint.event_types}
    endpoint.url, endpoint.description = url, description
    endpoint.event_types = _clean_types(event_types)
    endpoint.full_clean()
    endpoint.save()
    after = {"url": endpoint.url, "description": endpoint.description,
             "event_types": endpoint.event_types}
    if changes := diff(before, after):
        record_event(org=org, actor=actor, action="webhook.updated", obj=endpoint,
                     changes=changes)
    return endpoint


@transaction.atomic
def endpoint_rotate_secret(*, org, actor: Membership, endpoint: WebhookEndpoint) -> str:
    """A new secret; the old one keeps signing alongside for 24 hours. Returns the new
    secret (shown once). Audits webhook.secret_rotated."""
    require_member(org, actor)
    _require(actor)
    endpoint = WebhookEndpoint.objects.for_org(org).select_for_update().get(pk=endpoint.pk)
    secret = signing.new_secret()
    endpoint.previous_secret_encrypted = endpoint.secret_encrypted
    endpoint.previous_secret_expires_at = timezone.now() + ROTATION_OVERLAP
    endpoint.secret_encrypted = encrypt(secret)
    endpoint.save()
    record_event(org=org, actor=actor, action="webhook.secret_rotated", obj=endpoint,
                 changes={"previous_secret_valid_until":
                          [None, endpoint.previous_secret_expires_at]})
    return secret


@transaction.atomic
def endpoint_set_enabled(*, org, actor: Membership | None, endpoint: WebhookEndpoint,
                         enabled: bool, reason: str = "") -> WebhookEndpoint:
    """Turn an endpoint on or off. actor None: the system (persistent failure). Audits
    webhook.enabled / webhook.disabled; disabling emits webhook.disabled to tell admins."""
    require_member(org, actor, system_ok=True)
    if actor is not None:
        _require(actor)
    endpoint = WebhookEndpoint.objects.for_org(org).select_for_update().get(pk=endpoint.pk)
    if endpoint.enabled == enabled:
        return endpoint
    endpoint.enabled, endpoint.disabled_reason = enabled, "" if enabled else reason[:200]
    endpoint.save(update_fields=["enabled", "disabled_reason"])
    action = "webhook.enabled" if enabled else "webhook.disabled"
    record_event(org=org, actor=actor, action=action, obj=endpoint,
                 changes={"enabled": [not enabled, enabled], "reason": [None, reason or None]})
    if not enabled:
        # Owners and admins hear of it through notifications (email by default for the
        # webhook category), and the org's other endpoints get the event too.
        event_emit(org=org, kind="webhook.disabled", subject=endpoint,
                   severity=NotificationEvent.Severity.WARNING,
                   payload={"url": endpoint.url, "reason": reason,
                            "what_to_do": "Fix the receiver, enable the endpoint again in "
                                          "Settings > Webhooks, then redeliver what failed."})
    return endpoint


@transaction.atomic
def endpoint_delete(*, org, actor: Membership, endpoint: WebhookEndpoint):
    """Remove an endpoint and its delivery log. Audits webhook.deleted."""
    require_member(org, actor)
    _require(actor)
    endpoint = WebhookEndpoint.objects.for_org(org).select_for_update().get(pk=endpoint.pk)
    record_event(org=org, actor=actor, action="webhook.deleted", obj=endpoint,
                 changes={"url": [endpoint.url, None]})
    endpoint.delete()  # deliveries and their attempt log go with it (CASCADE)


@transaction.atomic
def endpoint_send_test(*, org, actor: Membership, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Queue a `webhook.test` event for this endpoint only. Returns its delivery."""
    require_member(org, actor)
    _require(actor)
    event = event_emit(org=org, kind="webhook.test", subject=endpoint,
                       payload={"message": "Test event from governance", "by": actor.user.email})
    # Claimed here so the fan-out does not send it to the org's other endpoints.
    NotificationEvent.objects.for_org(org).filter(pk=event.pk).update(dispatched_at=timezone.now())
    delivery = WebhookDelivery.objects.create(org=org, endpoint=endpoint, event=event)
    _queue_attempt(org, delivery)
    return delivery


def _queue_attempt(org, delivery):
    """After commit, ask a worker for an attempt now (the sweep would within a minute)."""
    from orgs.webhooks.tasks import webhook_deliver_task

    transaction.on_commit(lambda: webhook_deliver_task.delay(org.pk, delivery.pk))


@transaction.atomic
def delivery_redeliver(*, org, actor: Membership, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again from the first attempt (the log keeps earlier attempts).
    Audits webhook.redelivered."""
    require_member(org, actor)
    _require(actor)
    updated = WebhookDelivery.objects.for_org(org).filter(pk=delivery.pk).update(
        status=WebhookDelivery.Status.PENDING, attempts=0, next_attempt_at=timezone.now())
    if not updated:
        raise ValidationError({"delivery": "This delivery no longer exists."})
    record_event(org=org, actor=actor, action="webhook.redelivered", obj=delivery,
                 object_repr=f"{delivery.event.kind} to {delivery.endpoint.url}"[:200])
    delivery.refresh_from_db()
    _queue_attempt(org, delivery)
    return delivery


def webhook_deliveries_for(*, org, endpoints, event) -> list[int]:
    """Deliveries of one claimed event to the endpoints that want it (run inside the
    fan-out's transaction, orgs/dispatch.py). Returns the new delivery ids."""
    return [WebhookDelivery.objects.create(org=org, endpoint=endpoint, event=event).pk
            for endpoint in endpoints if endpoint.wants(event.kind)]


def payload_for(event: NotificationEvent) -> bytes:
    """The stable JSON body: {type, timestamp, data} as Standard Webhooks suggests."""
    body = {
        "type": event.kind,
        "timestamp": event.created_at.isoformat(),
        "data": {
            "id": str(event.public_id),
            "organization": event.org.slug,
            "severity": event.severity,
            "subject": {"type": event.subject_type, "id": event.subject_id},
            "details": event.payload,
        },
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _claim(org, delivery_id) -> WebhookDelivery | None:
    now = timezone.now()
    claimed = WebhookDelivery.objects.for_org(org).filter(
        pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now,
        endpoint__enabled=True,
    ).update(attempts=F("attempts") + 1, next_attempt_at=now + LEASE)
    if not claimed:
        return None
    return (WebhookDelivery.objects.for_org(org).select_related("endpoint", "event__org")
            .get(pk=delivery_id))


def _post(delivery: WebhookDelivery) -> dict:
    endpoint = delivery.endpoint
    secrets = [decrypt(endpoint.secret_encrypted)]
    if endpoint.previous_secret_encrypted and endpoint.previous_secret_expires_at and \
            endpoint.previous_secret_expires_at > timezone.now():
        secrets.append(decrypt(endpoint.previous_secret_encrypted))
    body = payload_for(delivery.event)
    headers = signing.headers(secrets, f"msg_{delivery.public_id.hex}", int(time.time()), body)
    start = time.monotonic()
    try:
        # No redirects: a receiver cannot bounce the signed payload somewhere else.
        response = outbound.fetch("POST", endpoint.url, body=body, headers=headers,
                                  timeout=TIMEOUT, max_bytes=MAX_RESPONSE)
    except outbound.OutboundRefused as exc:
        return {"error": str(exc)[:200], "latency_ms": 0}
    except outbound.OutboundError as exc:
        return {"error": str(exc)[:200],
                "latency_ms": round((time.monotonic() - start) * 1000)}
    # The receiver's own answer (a public address the admin chose) is the delivery log's
    # excerpt, as documented in docs/webhooks.md; it never reaches a log line.
    return {"status_code": response.status, "response_excerpt": response.text[:500],
            "latency_ms": round((time.monotonic() - start) * 1000)}


def delivery_attempt(*, org, delivery_id: int) -> str | None:
    """Make one attempt at a due delivery (claimed under a lease, so never twice at once).
    Success marks it delivered; failure schedules the next attempt with backoff, and the
    last failure disables the endpoint and tells the admins. Returns the new status, or
    None when there was nothing to do."""
    delivery = _claim(org, delivery_id)
    if delivery is None:
        return None
    result = _post(delivery)  # outside any transaction: never hold a lock over the network
    with transaction.atomic():
        attempt = WebhookAttempt.objects.create(org=org, delivery=delivery, **result)
        fields = {"last_status_code": attempt.status_code, "last_latency_ms": attempt.latency_ms}
        if attempt.ok:
            fields.update(status=WebhookDelivery.Status.SUCCEEDED, delivered_at=timezone.now())
        elif delivery.attempts >= MAX_ATTEMPTS:
            fields.update(status=WebhookDelivery.Status.FAILED)
        else:
            fields.update(next_attempt_at=timezone.now() + BACKOFF[delivery.attempts - 1])
        WebhookDelivery.objects.for_org(org).filter(pk=delivery.pk).update(**fields)
        if fields.get("status") == WebhookDelivery.Status.FAILED:
            endpoint_set_enabled(org=org, actor=None, endpoint=delivery.endpoint, enabled=False,
                                 reason=f"{MAX_ATTEMPTS} attempts over a day failed "
                                        f"(last: {attempt.status_code or attempt.error})")
    return fields.get("status", WebhookDelivery.Status.PENDING)


def due_deliveries(*, org, limit: int = 200) -> list[int]:
    """Ids of org's deliveries whose next attempt is due (including expired leases)."""
    return list(WebhookDelivery.objects.for_org(org).filter(
        status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=timezone.now(),
        endpoint__enabled=True).order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
