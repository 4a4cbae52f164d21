"""The org's smoke-test gateway settings: field errors on bad input, the SSRF rule, the key
stored encrypted and never shown or audited, who may change it."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.urls import reverse

from evidence.gateway import gateway_config_update, gateway_key
from evidence.models import GatewayConfig
from orgs.audit import AuditEvent
from orgs.events import NotificationEvent
from tests.conftest import login

KEY = "sk-live-secret-never-shown-0123456789abcdef"
URL = "/o/acme/settings/gateway/"


@pytest.fixture(autouse=True)
def _loopback_allowed(loopback_allowed, public_dns):
    pass


def save(client, **data):
    return client.post(URL, {"base_url": "http://127.0.0.1:9/v1", "key": KEY,
                             "timeout_seconds": "20", **data})


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"base_url": "ftp://gateway.example/v1"}, "base_url", "http:// or https:// base URL"),
    ({"base_url": "gateway.example"}, "base_url", "http:// or https:// base URL"),
    ({"base_url": "https://user:pw@gateway.example/v1"}, "base_url", "never in the URL"),
    ({"base_url": "https://gateway.example/v1?x=1"}, "base_url", "no ?query"),
    ({"timeout_seconds": "0"}, "timeout_seconds", "from 1 to 120"),
    ({"timeout_seconds": "500"}, "timeout_seconds", "from 1 to 120"),
    ({"timeout_seconds": "soon"}, "timeout_seconds", "Enter a whole number."),
    ({"key": ""}, "key", "Give the gateway key"),
    ({"key": "two words"}, "key", "one word"),
])
def test_bad_input_gives_field_errors_and_saves_nothing(client, owner, data, field, message):
    login(client, owner)
    response = save(client, **data)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == [field] and message in errors[field][0]
    assert not GatewayConfig.objects.for_org(owner.org).exists()


def test_a_loopback_gateway_is_refused_outside_debug(client, owner, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    login(client, owner)
    response = save(client)
    assert response.status_code == 400
    assert "127.0.0.1 resolves to 127.0.0.1, a loopback, private or link-local address" \
        in response.context["form"].errors["base_url"][0]
    with pytest.raises(ValidationError) as exc:
        gateway_config_update(org=owner.org, actor=owner, base_url="http://10.0.0.5/v1",
                              key=KEY, timeout_seconds=5)
    assert "base_url" in exc.value.message_dict


def test_the_key_is_stored_encrypted_and_never_shown_logged_or_audited(client, owner):
    login(client, owner)
    response = save(client, base_url="http://127.0.0.1:9/v1/")
    assert response.status_code == 302
    config = GatewayConfig.objects.for_org(owner.org).get()
    assert config.base_url == "http://127.0.0.1:9/v1"  # trailing slash dropped
    assert gateway_key(config) == KEY
    with connection.cursor() as cursor:  # the raw row, as a database dump would show it
        cursor.execute("SELECT * FROM evidence_gatewayconfig")
        assert KEY not in str(cursor.fetchall())
    page = client.get(URL).content.decode()
    assert KEY not in page and "Replace test key" in page and "A key is stored" in page
    event = AuditEvent.objects.for_org(owner.org).get(action="evidence.gateway_updated")
    assert event.changes["key"] == [None, "replaced"] and KEY not in str(event.changes)
    assert KEY not in str(NotificationEvent.objects.for_org(owner.org)
                          .filter(kind="evidence.gateway_updated").values("payload"))


def test_an_empty_key_keeps_the_stored_one_and_a_new_one_replaces_it(client, owner):
    login(client, owner)
    save(client)
    assert save(client, key="", timeout_seconds="7").status_code == 302
    config = GatewayConfig.objects.for_org(owner.org).get()
    assert (gateway_key(config), config.timeout_seconds) == (KEY, 7)
    save(client, key="sk-new-key")
    assert gateway_key(GatewayConfig.objects.for_org(owner.org).get()) == "sk-new-key"


@pytest.mark.parametrize("role", ["member", "security", "finance", "auditor"])
def test_members_read_the_settings_and_only_admins_change_them(client, personas, role):
    gateway_config_update(org=personas["owner"].org, actor=personas["admin"],
                          base_url="https://gateway.example/v1", key=KEY, timeout_seconds=20)
    login(client, personas[role])
    page = client.get(URL)
    body = page.content.decode()
    assert page.status_code == 200 and "https://gateway.example/v1" in body and KEY not in body
    assert "Save gateway settings" not in body
    assert save(client).status_code == 403
    with pytest.raises(PermissionDenied):
        gateway_config_update(org=personas["owner"].org, actor=personas[role],
                              base_url="https://gateway.example/v1", timeout_seconds=20)


def test_org_settings_link_to_the_gateway_page(client, owner):
    login(client, owner)
    body = client.get(reverse("orgs:org_settings", args=["acme"])).content.decode()
    assert f'href="{URL}"' in body


def test_the_outsider_gets_404(client, outsider):
    login(client, outsider)
    assert client.get(URL).status_code == 404
