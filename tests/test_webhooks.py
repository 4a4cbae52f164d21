"""Signed webhooks: Standard Webhooks signatures checked by an independent library, retries
against a receiver on 127.0.0.1, exactly-once fan-out, auto-disable, SSRF refusal, pages."""

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from orgs.audit import AuditEvent
from orgs.dispatch import event_fan_out
from orgs.events import NotificationEvent, event_emit
from orgs.webhooks import services
from orgs.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.components import wait_for
from tests.conftest import ROLES, login

pytestmark = pytest.mark.django_db


class Receiver:
    """An HTTP receiver on 127.0.0.1 that answers with scripted status codes."""

    def __init__(self):
        self.statuses, self.requests = [], []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b'{"received": true}' if status < 300 else b"boom")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(loopback_allowed):  # the receiver is on loopback
    r = Receiver()
    yield r
    r.close()


def emit(org, kind="member.role_changed", **payload):
    with transaction.atomic():
        return event_emit(org=org, kind=kind, payload=payload or {"member": "x@acme.test"})


def make_due(delivery_id):
    WebhookDelivery.objects.filter(pk=delivery_id).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1))


def test_delivery_is_signed_per_standard_webhooks(personas, org_a, receiver):
    endpoint, secret = services.endpoint_create(org=org_a, actor=personas["admin"],
                                                url=receiver.url)
    emit(org_a)
    [delivery_id] = event_fan_out(org=org_a).deliveries
    assert services.delivery_attempt(org=org_a, delivery_id=delivery_id) == "succeeded"
    [(headers, body)] = receiver.requests
    payload = Webhook(secret).verify(body, headers)  # an independent implementation
    assert payload["type"] == "member.role_changed"
    assert payload["data"]["organization"] == "acme"
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(body, headers)
    assert secret not in WebhookEndpoint.objects.get(pk=endpoint.pk).secret_encrypted


def test_failed_attempt_is_retried_after_backoff_then_succeeds(personas, org_a, receiver):
    services.endpoint_create(org=org_a, actor=personas["admin"], url=receiver.url)
    receiver.statuses = [500]
    emit(org_a)
    [delivery_id] = event_fan_out(org=org_a).deliveries
    assert services.delivery_attempt(org=org_a, delivery_id=delivery_id) == "pending"
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert delivery.last_status_code == 500
    assert delivery.next_attempt_at > timezone.now() + timedelta(minutes=9)
    # Not due yet: a second worker or the sweep does nothing.
    assert services.delivery_attempt(org=org_a, delivery_id=delivery_id) is None
    make_due(delivery_id)
    assert services.delivery_attempt(org=org_a, delivery_id=delivery_id) == "succeeded"
    ids = {h["webhook-id"] for h, _ in receiver.requests}
    assert len(receiver.requests) == 2 and len(ids) == 1  # same message id on retry
    log = list(delivery.attempt_log.order_by("attempted_at").values_list("status_code", flat=True))
    assert log == [500, 200]


def test_persistent_failure_disables_endpoint_and_tells_admins(
        personas, org_a, receiver, django_capture_on_commit_callbacks):
    endpoint, _ = services.endpoint_create(org=org_a, actor=personas["admin"], url=receiver.url)
    receiver.statuses = [503] * services.MAX_ATTEMPTS
    emit(org_a)
    [delivery_id] = event_fan_out(org=org_a).deliveries
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(services.MAX_ATTEMPTS):
            make_due(delivery_id)
            services.delivery_attempt(org=org_a, delivery_id=delivery_id)
    assert WebhookDelivery.objects.get(pk=delivery_id).status == "failed"
    endpoint.refresh_from_db()
    assert not endpoint.enabled and "503" in endpoint.disabled_reason
    assert AuditEvent.objects.for_org(org_a).filter(action="webhook.disabled").exists()
    assert NotificationEvent.objects.for_org(org_a).filter(kind="webhook.disabled").exists()
    # Owners and admins are told by email (notifications, webhook category).
    notices = [m for m in mail.outbox if "webhook.disabled" in m.subject]
    assert sorted(m.to[0] for m in notices) == ["admin@acme.test", "owner@acme.test"]
    assert "Fix the receiver" in notices[0].body
    # Nothing more goes to a disabled endpoint.
    make_due(delivery_id)
    assert services.delivery_attempt(org=org_a, delivery_id=delivery_id) is None


def test_fan_out_twice_delivers_once(personas, org_a, receiver):
    services.endpoint_create(org=org_a, actor=personas["admin"], url=receiver.url)
    emit(org_a)
    first = event_fan_out(org=org_a).deliveries
    second = event_fan_out(org=org_a).deliveries
    assert len(first) == 1 and second == []
    assert WebhookDelivery.objects.count() == 1


def test_endpoints_only_get_the_event_types_they_asked_for(personas, org_a, receiver):
    keys, _ = services.endpoint_create(org=org_a, actor=personas["admin"], url=receiver.url,
                                       event_types=["key"])
    everything, _ = services.endpoint_create(org=org_a, actor=personas["admin"],
                                             url=receiver.url + "/all")
    emit(org_a, kind="key.leaked")
    emit(org_a, kind="member.role_changed")
    event_fan_out(org=org_a)
    assert keys.deliveries.count() == 1 and everything.deliveries.count() == 2


def test_rotation_signs_with_old_and_new_secret_for_a_day(personas, org_a, receiver):
    endpoint, old = services.endpoint_create(org=org_a, actor=personas["admin"],
                                             url=receiver.url)
    new = services.endpoint_rotate_secret(org=org_a, actor=personas["admin"], endpoint=endpoint)
    emit(org_a)
    [delivery_id] = event_fan_out(org=org_a).deliveries
    services.delivery_attempt(org=org_a, delivery_id=delivery_id)
    [(headers, body)] = receiver.requests
    Webhook(old).verify(body, headers)
    Webhook(new).verify(body, headers)
    assert AuditEvent.objects.for_org(org_a).filter(action="webhook.secret_rotated").exists()


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x", "http://localhost/x",
                                 "http://10.1.2.3/x", "http://169.254.169.254/latest",
                                 "http://[::1]/x", "ftp://example.com/x"])
def test_private_or_odd_destinations_are_refused(personas, org_a, settings, url):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    with pytest.raises(ValidationError) as exc:
        services.endpoint_create(org=org_a, actor=personas["admin"], url=url)
    assert "url" in exc.value.message_dict
    assert not WebhookEndpoint.objects.exists()


def test_public_address_is_accepted(personas, org_a, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    endpoint, _ = services.endpoint_create(org=org_a, actor=personas["admin"],
                                           url="https://93.184.215.14/hook")
    assert endpoint.enabled


def test_only_admins_manage_webhooks(personas, org_a, receiver):
    with pytest.raises(PermissionDenied):
        services.endpoint_create(org=org_a, actor=personas["security"], url=receiver.url)


def test_redeliver_sends_again(personas, org_a, receiver):
    endpoint, _ = services.endpoint_create(org=org_a, actor=personas["admin"], url=receiver.url)
    emit(org_a)
    [delivery_id] = event_fan_out(org=org_a).deliveries
    services.delivery_attempt(org=org_a, delivery_id=delivery_id)
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    services.delivery_redeliver(org=org_a, actor=personas["owner"], delivery=delivery)
    assert services.delivery_attempt(org=org_a, delivery_id=delivery_id) == "succeeded"
    assert len(receiver.requests) == 2
    assert AuditEvent.objects.for_org(org_a).filter(action="webhook.redelivered").exists()


# --- pages ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_webhook_pages_are_for_admins(client, personas, role):
    login(client, personas[role])
    status = client.get("/o/acme/settings/webhooks/").status_code
    assert status == (200 if role in ("owner", "admin") else 403)


def test_outsider_gets_404(client, outsider, personas):
    login(client, outsider)
    assert client.get("/o/acme/settings/webhooks/").status_code == 404


def test_secret_is_shown_once_on_create(client, personas, receiver):
    login(client, personas["admin"])
    response = client.post("/o/acme/settings/webhooks/", {"url": receiver.url,
                                                          "event_types": ["key"]})
    assert response.status_code == 201
    secret = response.context["secret"]
    assert secret.startswith("whsec_") and secret in response.content.decode()
    endpoint = WebhookEndpoint.objects.get()
    page = client.get(f"/o/acme/settings/webhooks/{endpoint.public_id}/")
    assert secret not in page.content.decode()


def test_bad_url_is_a_field_error_and_changes_nothing(client, personas, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    login(client, personas["admin"])
    before = AuditEvent.objects.count()
    response = client.post("/o/acme/settings/webhooks/", {"url": "http://127.0.0.1/x"})
    assert response.status_code == 400
    assert "url" in response.context["form"].errors
    assert AuditEvent.objects.count() == before and not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("rows", [3, 30])
def test_endpoint_list_keeps_constant_queries(client, personas, org_a, receiver, rows,
                                              django_assert_num_queries):
    for i in range(rows % 20):
        services.endpoint_create(org=org_a, actor=personas["admin"], url=f"{receiver.url}/{i}")
    login(client, personas["admin"])
    # session, user, membership+org, endpoints with delivery counts, org switcher
    with django_assert_num_queries(5):
        assert client.get("/o/acme/settings/webhooks/").status_code == 200


# --- a real worker ----------------------------------------------------------------------


@pytest.fixture
def worker_may_reach_loopback(monkeypatch):
    monkeypatch.setenv("OUTBOUND_ALLOWED_NETWORKS", "127.0.0.1/32")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_real_worker_delivers_an_event_after_commit(worker_may_reach_loopback, receiver,
                                                    celery_worker_process, personas, org_a):
    _, secret = services.endpoint_create(org=org_a, actor=personas["admin"], url=receiver.url)
    emit(org_a, kind="key.leaked", key="gvk_test_prefix")  # on commit: fan-out task queued
    wait_for(lambda: receiver.requests, timeout=20,
             message=f"no delivery; worker log:\n{celery_worker_process.log()[-3000:]}")
    headers, body = receiver.requests[0]
    assert Webhook(secret).verify(body, headers)["type"] == "key.leaked"
    wait_for(lambda: WebhookDelivery.objects.filter(status="succeeded").exists())
    assert json.loads(body)["data"]["details"] == {"key": "gvk_test_prefix"}


# --- API --------------------------------------------------------------------------------


def api_client(membership):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(membership.user)
    return client


@pytest.mark.parametrize("role", ROLES)
def test_api_is_for_admins(personas, role, receiver):
    client = api_client(personas[role])
    response = client.post("/api/v1/o/acme/webhooks/", {"url": receiver.url}, format="json")
    assert response.status_code == (201 if role in ("owner", "admin") else 403)
    assert client.get("/api/v1/o/acme/webhooks/").status_code == \
        (200 if role in ("owner", "admin") else 403)


def test_api_outsider_gets_404(outsider, personas, org_a, receiver):
    endpoint, _ = services.endpoint_create(org=org_a, actor=personas["admin"], url=receiver.url)
    client = api_client(outsider)
    assert client.get("/api/v1/o/acme/webhooks/").status_code == 404
    assert client.get(f"/api/v1/o/globex/webhooks/{endpoint.public_id}/").status_code == 404


def test_api_lifecycle(personas, receiver):
    client = api_client(personas["admin"])
    created = client.post("/api/v1/o/acme/webhooks/", {"url": receiver.url,
                                                       "event_types": ["key", "security"]},
                          format="json").json()
    secret, base = created["secret"], f"/api/v1/o/acme/webhooks/{created['id']}/"
    assert secret.startswith("whsec_")
    assert "secret" not in client.get(base).json()
    assert all("secret" not in e for e in client.get("/api/v1/o/acme/webhooks/").json()["results"])

    rotated = client.post(base + "rotate-secret/").json()
    assert rotated["secret"] != secret and rotated["previous_secret_expires_at"]

    queued = client.post(base + "test/")
    assert queued.status_code == 202 and queued.json()["event_type"] == "webhook.test"
    services.delivery_attempt(org=personas["admin"].org,
                              delivery_id=WebhookDelivery.objects.get().pk)
    [delivery] = client.get(base + "deliveries/").json()["results"]
    assert delivery["status"] == "succeeded" and delivery["attempt_log"][0]["status_code"] == 200
    again = client.post(base + f"deliveries/{delivery['id']}/redeliver/")
    assert again.status_code == 202 and again.json()["status"] == "pending"

    assert client.patch(base, {"enabled": False}, format="json").json()["enabled"] is False
    assert client.delete(base).status_code == 204
    assert not WebhookEndpoint.objects.exists()


def test_api_bad_body_is_field_level(personas, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    client = api_client(personas["admin"])
    response = client.post("/api/v1/o/acme/webhooks/", {"url": "http://127.0.0.1/x",
                                                        "event_types": ["no such!"]},
                           format="json")
    assert response.status_code == 400
    assert set(response.json()) & {"url", "event_types"}
    assert not WebhookEndpoint.objects.exists()


def test_dashboard_tells_admins_about_disabled_endpoints(client, personas, org_a, receiver):
    endpoint, _ = services.endpoint_create(org=org_a, actor=personas["admin"], url=receiver.url)
    services.endpoint_set_enabled(org=org_a, actor=None, endpoint=endpoint, enabled=False,
                                  reason="5 attempts over a day failed (last: 503)")
    login(client, personas["admin"])
    page = client.get("/o/acme/").content.decode()
    assert "Needs your attention" in page and "last: 503" in page
    login(client, personas["member"])
    assert "Needs your attention" not in client.get("/o/acme/").content.decode()
