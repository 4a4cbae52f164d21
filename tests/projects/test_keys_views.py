"""Key and workload identity pages: role x {own org, other org}, the secret shown on one
page only, the forms' bad input, the key list's query count, and a scan of logs, audit
events, notifications and API responses for a secret after its key's whole life."""

import logging
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.timezone import localtime
from rest_framework.test import APIClient

from orgs.audit import AuditEvent
from orgs.events import NotificationEvent
from orgs.roles import Role
from projects.models import ApiKey, WorkloadIdentity
from tests.conftest import ROLES, login
from tests.projects.conftest import make_key

# Issuer URLs are checked against the outbound policy when saved: they resolve to a public
# address without DNS (the machine has no resolver for them).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("public_dns")]

ALL = set(ROLES)
HOLDERS = {Role.OWNER, Role.ADMIN, Role.MEMBER}


def url(name, *args, slug="acme"):
    return reverse(f"projects:{name}", args=[slug, *args])


@pytest.fixture
def key(org_a, owner, envs, caller_a):
    return make_key(org_a, owner, envs["production"], caller_a)[0]


def pages(key, project):
    return {
        "key_list": (url("key_list"), ALL),
        "key_create": (url("key_create"), HOLDERS),
        "key_detail": (url("key_detail", key.public_id), ALL),
        "key_report_leaked": (url("key_report_leaked"), ALL),
        "identity_list": (url("identity_list", project.public_id), ALL),
    }


PAGE_NAMES = ["key_list", "key_create", "key_detail", "key_report_leaked", "identity_list"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", PAGE_NAMES)
def test_page_is_200_with_permission_and_403_without(client, personas, key, project_a, role,
                                                     name):
    path, allowed = pages(key, project_a)[name]
    assert login(client, personas[role]).get(path).status_code == (
        200 if role in allowed else 403)


@pytest.mark.parametrize("name", PAGE_NAMES)
def test_outsider_gets_404(client, key, project_a, outsider, name):
    path, _ = pages(key, project_a)[name]
    assert login(client, outsider).get(path).status_code == 404


def test_nav_links_to_keys(client, owner):
    response = login(client, owner).get(reverse("orgs:dashboard", args=["acme"]))
    assert url("key_list") in response.content.decode()


def create_form(envs, caller, tier="production"):
    return {"project": str(envs[tier].project.public_id),
            "environment": str(envs[tier].public_id), "caller": str(caller.public_id),
            "name": "support-api prod", "expires_in_days": "30"}


def test_create_shows_the_secret_on_that_page_only(client, owner, envs, caller_a):
    response = login(client, owner).post(url("key_create"), create_form(envs, caller_a))
    assert response.status_code == 201
    assert response["Cache-Control"].startswith("no-store") or "no-store" in \
        response["Cache-Control"]
    key = ApiKey.objects.get()
    page = response.content.decode()
    secret = response.context["secret"]
    assert secret in page and secret.startswith("gvk_live_")
    for later in (url("key_detail", key.public_id), url("key_list")):
        assert secret not in client.get(later).content.decode()


def test_developer_cannot_create_a_production_key_in_the_browser(client, people, envs,
                                                                 caller_a):
    response = login(client, people["developer"]).post(url("key_create"),
                                                        create_form(envs, caller_a))
    assert response.status_code == 403
    assert not ApiKey.objects.exists()
    ok = client.post(url("key_create"), create_form(envs, caller_a, "development"))
    assert ok.status_code == 201


def test_create_form_bad_input_changes_nothing(client, owner, envs, caller_a, project_b):
    form = {**create_form(envs, caller_a), "project": str(project_b.public_id),
            "expires_in_days": "1000"}
    response = login(client, owner).post(url("key_create"), form)
    assert response.status_code == 400
    assert set(response.context["form"].errors) >= {"project", "expires_in_days"}
    assert not ApiKey.objects.exists()


def test_choosing_a_project_narrows_environments_and_callers(client, owner, envs, caller_a):
    response = login(client, owner).get(
        url("key_create") + f"?project={envs['production'].project.public_id}")
    form = response.context["form"]
    assert set(form.fields["environment"].queryset) == set(envs.values())


def test_rotate_then_revoke_in_the_browser(client, owner, key):
    login(client, owner)
    rotated = client.post(url("key_rotate", key.public_id), {"overlap_seconds": "86400",
                                                             "confirm": "yes"})
    assert rotated.status_code == 201
    assert rotated.context["secret"] in rotated.content.decode()
    successor = ApiKey.objects.get(rotated_from=key)
    revoked = client.post(url("key_revoke", successor.public_id), {"reason": "test",
                                                                   "confirm": "yes"})
    assert revoked.status_code == 302
    assert ApiKey.objects.get(pk=successor.pk).revoked_at is not None
    history = client.get(url("key_detail", key.public_id)).context["history"]
    assert [e.action for e in history] == ["key.created", "key.rotated"]


def test_rotate_asks_first_and_states_the_overlap_end_not_the_key_expiry(client, owner,
                                                                         key):
    # The bug: the page said the key's expiry (weeks away) for a one-hour overlap.
    events = AuditEvent.objects.count()
    login(client, owner)
    with time_machine.travel(timezone.now(), tick=False):  # the same minute on both sides
        asked = client.post(url("key_rotate", key.public_id), {"overlap_seconds": "3600"})
        end = localtime(timezone.now() + timedelta(hours=1))
    assert asked.status_code == 200
    page = asked.content.decode()
    assert f"keeps working until {date_format(end, 'j M Y H:i T')} (1 hour from now)" in page
    assert 'name="confirm" value="yes"' in page and 'name="overlap_seconds" value="3600"' in page
    assert ApiKey.objects.count() == 1 and ApiKey.objects.get(pk=key.pk).rotated_at is None
    assert AuditEvent.objects.count() == events

    rotated = client.post(url("key_rotate", key.public_id), {"overlap_seconds": "3600",
                                                             "confirm": "yes"})
    key.refresh_from_db()
    assert key.expires_at <= timezone.now() + timedelta(hours=1)
    stated = rotated.content.decode()
    stated = stated.split('id="overlap-end"')[1].split("</p>")[0]
    assert f"keeps working until {date_format(localtime(key.expires_at), 'j M Y H:i T')}" \
        in stated
    successor = ApiKey.objects.get(rotated_from=key)
    assert date_format(localtime(successor.expires_at), "j M Y") not in stated


def test_rotate_of_a_rotated_key_is_refused_before_any_confirmation(client, owner, key):
    login(client, owner).post(url("key_rotate", key.public_id),
                              {"overlap_seconds": "3600", "confirm": "yes"})
    again = client.post(url("key_rotate", key.public_id), {"overlap_seconds": "3600"})
    assert again.status_code == 400
    assert "only an active key can be rotated" in again.content.decode()
    assert ApiKey.objects.count() == 2


def test_revoke_asks_first_and_changes_nothing_until_confirmed(client, owner, key):
    events = AuditEvent.objects.count()
    asked = login(client, owner).post(url("key_revoke", key.public_id), {"reason": "retired"})
    assert asked.status_code == 200
    assert "Revoke key" in asked.content.decode() and "retired" in asked.content.decode()
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None
    assert AuditEvent.objects.count() == events
    client.post(url("key_revoke", key.public_id), {"reason": "retired", "confirm": "yes"})
    assert ApiKey.objects.get(pk=key.pk).revoked_reason == "retired"


def test_revoke_without_reason_is_a_field_error(client, owner, key):
    response = login(client, owner).post(url("key_revoke", key.public_id), {"reason": ""})
    assert response.status_code == 400 and "reason" in response.context["revoke_form"].errors
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None


def test_any_member_reports_a_leak_in_the_browser(client, personas, org_a, owner, envs,
                                                  caller_a):
    _, secret = make_key(org_a, owner, envs["development"], caller_a)
    response = login(client, personas["finance"]).post(url("key_report_leaked"),
                                                       {"secret": secret})
    assert response.status_code == 302
    assert ApiKey.objects.get().revoked_at is not None
    bad = client.post(url("key_report_leaked"), {"secret": "gvk_live_123"})
    assert bad.status_code == 400 and "gvk_live_123" not in bad.content.decode()


def test_project_admin_adds_and_deletes_a_workload_identity(client, people, project_a, envs,
                                                            caller_a):
    login(client, people["project_admin"])
    form = {"name": "deploy", "environment": str(envs["staging"].public_id),
            "caller": str(caller_a.public_id), "issuer":
            "https://token.actions.githubusercontent.com", "audience": "governance",
            "claim": "sub", "match": "exact", "pattern": "repo:acme/app:ref:refs/heads/main",
            "token_lifetime_seconds": "900"}
    assert client.post(url("identity_list", project_a.public_id), form).status_code == 302
    identity = WorkloadIdentity.objects.get()
    assert client.post(url("identity_delete", project_a.public_id, identity.public_id)) \
        .status_code == 302
    assert not WorkloadIdentity.objects.exists()
    login(client, people["viewer"])
    assert client.post(url("identity_list", project_a.public_id), form).status_code == 403


def test_key_list_query_count_does_not_grow_with_keys(client, owner, org_a, envs, caller_a,
                                                      django_assert_num_queries):
    for tier in ("development", "staging", "production"):
        make_key(org_a, owner, envs[tier], caller_a)
    login(client, owner)
    client.get(url("key_list"))  # warm the session
    # session, user, membership + org, keys count, one page of keys (joined), the
    # filter form's projects, environments and callers, the org switcher
    with django_assert_num_queries(9):
        response = client.get(url("key_list") + "?status=active")
    assert len(response.context["page"].object_list) == 3


def test_no_secret_in_logs_audit_events_notifications_or_api_responses(
        client, caplog, owner, personas, org_a, envs, caller_a):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django.db.backends")  # settings keep it at INFO
    connection.force_debug_cursor = True  # log every SQL statement with its parameters
    try:
        login(client, owner)
        created = client.post(url("key_create"), create_form(envs, caller_a))
        first = created.context["secret"]
        key = ApiKey.objects.get()
        rotated = client.post(url("key_rotate", key.public_id), {"overlap_seconds": "3600",
                                                                 "confirm": "yes"})
        second = rotated.context["secret"]
        successor = ApiKey.objects.get(rotated_from=key)
        client.post(url("key_revoke", key.public_id), {"reason": "rotated", "confirm": "yes"})
        api = APIClient()
        api.force_authenticate(owner.user)
        made = api.post("/api/v1/o/acme/keys/", {
            "project": str(envs["staging"].project.public_id),
            "environment": str(envs["staging"].public_id),
            "caller": str(caller_a.public_id)}, format="json").json()
        third = made["secret"]
        api.post("/api/v1/o/acme/keys/report-leaked/", {"secret": second}, format="json")
        responses = [api.get("/api/v1/o/acme/keys/").content.decode()] + [
            api.get(f"/api/v1/o/acme/keys/{k.public_id}/").content.decode()
            for k in ApiKey.objects.all()] + [
            client.get(url("key_detail", successor.public_id)).content.decode(),
            client.get(url("key_list")).content.decode(),
            api.get("/api/v1/o/acme/audit/").content.decode()]
    finally:
        connection.force_debug_cursor = False
    haystacks = {
        "logs": caplog.text,
        "audit events": " ".join(str(e.changes) for e in AuditEvent.objects.for_org(org_a)),
        "notifications": " ".join(str(n.payload) for n in
                                  NotificationEvent.objects.for_org(org_a)),
        "responses": " ".join(responses),
        "key rows": " ".join(str(row) for row in ApiKey.objects.values()),
    }
    assert "SELECT" in caplog.text  # the SQL log was captured
    for secret in (first, second, third):
        for where, text in haystacks.items():
            assert secret not in text, f"a secret leaked into {where}"
            assert secret[len("gvk_live_"):] not in text, f"a secret's body leaked into {where}"


def test_other_orgs_keys_and_identities_are_404_inside_own_org(client, owner, outsider,
                                                                org_b, project_b, caller_b,
                                                                project_a):
    from projects import workload

    env_b = project_b.environments.get(tier="development")
    key_b, _ = make_key(org_b, outsider, env_b, caller_b)
    identity_b = workload.identity_create(
        org=org_b, actor=outsider, project=project_b, environment=env_b, caller=caller_b,
        name="theirs", issuer="https://token.actions.githubusercontent.com", audience="x",
        claim="sub", match="exact", pattern="repo:globex/app")
    login(client, owner)
    for path in (url("key_detail", key_b.public_id), url("key_rotate", key_b.public_id),
                 url("key_revoke", key_b.public_id),
                 url("identity_delete", project_a.public_id, identity_b.public_id),
                 url("identity_delete", project_b.public_id, identity_b.public_id),
                 url("identity_list", project_b.public_id)):
        assert client.post(path, {"reason": "x", "overlap_seconds": "0"}).status_code == 404
    api = APIClient()
    api.force_authenticate(owner.user)
    base = "/api/v1/o/acme/"
    for path in (f"{base}keys/{key_b.public_id}/", f"{base}keys/{key_b.public_id}/revoke/",
                 f"{base}projects/{project_a.public_id}/workload-identities/"
                 f"{identity_b.public_id}/"):
        assert api.get(path).status_code in (404, 405)
        assert api.post(path, {"reason": "x"}, format="json").status_code in (404, 405)
    assert ApiKey.objects.get(pk=key_b.pk).revoked_at is None
