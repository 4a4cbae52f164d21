"""The Django admin works for staff, and shows tenant data read-only."""

import pytest
from django.contrib import admin

from orgs.audit import AuditEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_every_admin_changelist_opens(staff_client, personas, project_a, caller_a):
    for model in admin.site._registry:
        meta = model._meta
        url = f"/admin/{meta.app_label}/{meta.model_name}/"
        assert staff_client.get(url).status_code == 200, url


def test_audit_events_cannot_be_changed_or_deleted_in_admin(staff_client, personas, org_a):
    from orgs.services import org_update

    org_update(org=org_a, actor=personas["owner"], name="Renamed")
    event = AuditEvent.objects.for_org(org_a).get()
    page = staff_client.get(f"/admin/orgs/auditevent/{event.pk}/change/")
    assert page.status_code == 200 and b"Save" not in page.content
    assert staff_client.post(f"/admin/orgs/auditevent/{event.pk}/delete/",
                             {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_non_staff_cannot_open_admin(client, personas):
    client.force_login(personas["owner"].user)
    assert client.get("/admin/").status_code == 302
