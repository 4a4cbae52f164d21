"""GET /healthz against the real database, the real broker and a real Celery worker."""

import json

import pytest
from django.urls import reverse

from governance import health


def get_health(client):
    response = client.get(reverse("healthz"))
    assert response["Content-Type"] == "application/json"
    return response, response.json()


@pytest.mark.django_db
def test_worker_down_when_no_worker_runs(client):
    response, body = get_health(client)

    assert response.status_code == 503
    assert body["status"] == "degraded"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True
    assert body["checks"]["worker"] == {
        "ok": False, "workers": [], "ms": body["checks"]["worker"]["ms"]
    }


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_up_while_it_runs_and_down_after_it_stops(client, celery_worker_process):
    response, body = get_health(client)

    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert all(check["ok"] for check in body["checks"].values())
    assert celery_worker_process.name in body["checks"]["worker"]["workers"]

    celery_worker_process.stop()
    response, body = get_health(client)

    assert response.status_code == 503
    assert body["checks"]["worker"]["ok"] is False
    assert celery_worker_process.name not in body["checks"]["worker"]["workers"]


@pytest.mark.django_db
def test_database_down_is_503(client, monkeypatch):
    class Broken:
        def __enter__(self):
            from django.db import OperationalError

            raise OperationalError("connection to server at 10.0.0.1 failed: password=hunter2")

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(health.connection, "cursor", lambda: Broken())

    response, body = get_health(client)

    assert response.status_code == 503
    assert body["status"] == "degraded"
    assert body["checks"]["database"]["ok"] is False
    assert body["checks"]["database"]["error"] == "OperationalError"
    assert "hunter2" not in response.content.decode()


@pytest.mark.django_db
def test_broker_down_is_503_and_leaks_no_url(client, monkeypatch):
    # Celery reads CELERY_BROKER_URL from the environment before its settings.
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://:s3cret-broker-password@127.0.0.1:1/0")

    response, body = get_health(client)

    assert response.status_code == 503
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["worker"]["ok"] is False
    text = json.dumps(body)
    assert "s3cret" not in text
    assert "127.0.0.1" not in text


@pytest.mark.django_db
def test_health_needs_no_login_and_refuses_writes(client):
    assert client.post(reverse("healthz")).status_code == 405
    response = client.get(reverse("healthz"))
    assert response.status_code in {200, 503}
    assert "no-cache" in response["Cache-Control"]
