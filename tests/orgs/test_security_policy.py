"""The security policy, enforced: session lifetime and idle timeout on the next request,
MFA setup before anything else, SSO-required refusing passwords (owners keep a
break-glass with MFA), throttled failed sign-ins, and the policy page itself."""

import time

import pytest
from allauth.mfa.models import Authenticator

from orgs.audit import AuditEvent
from orgs.roles import Role
from orgs.services import security_policy_update
from orgs.session_policy import KEY
from tests.dns_components import verify_domain
from tests.factories import PASSWORD, MembershipFactory

pytestmark = pytest.mark.django_db


def shift(client, **seconds_ago):
    session = client.session
    state = dict(session[KEY])
    for key, ago in seconds_ago.items():
        state[key] = int(time.time()) - ago
    session[KEY] = state
    session.save()


def test_idle_timeout_signs_out_on_the_next_request(client, owner):
    security_policy_update(org=owner.org, actor=owner, idle_timeout_minutes=10)
    client.force_login(owner.user)
    assert client.get("/o/acme/").status_code == 200
    shift(client, seen=11 * 60)
    response = client.get("/o/acme/members/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
    assert client.get("/o/acme/").status_code == 302  # signed out for good
    assert AuditEvent.objects.for_org(owner.org).filter(action="logout").exists()


def test_activity_within_the_idle_timeout_keeps_the_session(client, owner):
    security_policy_update(org=owner.org, actor=owner, idle_timeout_minutes=10)
    client.force_login(owner.user)
    shift(client, seen=9 * 60)
    assert client.get("/o/acme/").status_code == 200
    assert client.session[KEY]["seen"] >= int(time.time()) - 5  # refreshed


def test_session_lifetime_ends_the_session_whatever_happens(client, owner):
    security_policy_update(org=owner.org, actor=owner, session_lifetime_minutes=60)
    client.force_login(owner.user)
    shift(client, auth_at=61 * 60, seen=0)
    assert client.get("/o/acme/").status_code == 302


def test_strictest_policy_of_the_users_orgs_applies(client, owner, outsider):
    MembershipFactory(org=outsider.org, user=owner.user)
    security_policy_update(org=outsider.org, actor=outsider, idle_timeout_minutes=5)
    client.force_login(owner.user)
    assert client.session[KEY]["idle"] == 5 * 60


def test_policy_change_reaches_open_sessions_within_a_minute(client, owner):
    client.force_login(owner.user)
    security_policy_update(org=owner.org, actor=owner, mfa_required=True)
    assert client.get("/o/acme/").status_code == 200  # the cached policy, under a minute old
    shift(client, at=61)
    assert client.get("/o/acme/")["Location"] == "/accounts/2fa/totp/activate/"


def test_mfa_required_sends_to_totp_setup_before_anything_else(client, owner):
    security_policy_update(org=owner.org, actor=owner, mfa_required=True)
    client.force_login(owner.user)
    for path in ("/o/acme/", "/o/acme/projects/", "/account/tokens/"):
        assert client.get(path)["Location"] == "/accounts/2fa/totp/activate/", path
    assert client.get("/api/v1/o/acme/").status_code == 403
    # Setting it up, and signing out, stay open.
    setup = client.get("/accounts/2fa/totp/activate/")  # allauth asks for the password first
    assert setup["Location"].startswith("/accounts/reauthenticate/")
    assert client.get(setup["Location"]).status_code == 200
    assert client.post("/accounts/logout/").status_code == 302


def test_mfa_required_is_satisfied_by_a_totp_authenticator(client, owner):
    security_policy_update(org=owner.org, actor=owner, mfa_required=True)
    Authenticator.objects.create(user=owner.user, type=Authenticator.Type.TOTP,
                                 data={"secret": "x"})
    client.force_login(owner.user)
    assert client.get("/o/acme/").status_code == 200


@pytest.fixture
def sso_required(owner, dns):
    verify_domain(dns, owner.org, owner, "acme.test")
    security_policy_update(org=owner.org, actor=owner, sso_required=True)
    return owner.org


def login(client, email, password=PASSWORD, ip="10.0.0.1"):
    return client.post("/accounts/login/", {"login": email, "password": password},
                       REMOTE_ADDR=ip)


def test_sso_required_refuses_password_login_and_points_to_sso(client, personas, sso_required):
    response = login(client, personas["member"].user.email)
    assert response.status_code == 302
    assert response["Location"] == "/sso/?email=member@acme.test"
    page = client.get(response["Location"])
    assert "requires single sign-on for acme.test" in page.content.decode()
    assert client.get("/o/acme/").status_code == 302  # not signed in
    assert AuditEvent.objects.for_org(sso_required).filter(action="login.refused").exists()


def test_sso_required_leaves_other_domains_alone(client, outsider, sso_required):
    response = login(client, outsider.user.email)
    assert response["Location"] == "/"  # signed in


def test_sso_required_never_binds_an_account_of_another_org_in_the_domain(
        client, outsider, sso_required):
    # Issue 12.1: Globex's owner has an address in Acme's verified domain but is no member
    # of Acme; Acme's policy is not theirs to follow (nor a way to lock them out).
    MembershipFactory(org=outsider.org, user__email="boss@acme.test", role=Role.OWNER)
    response = login(client, "boss@acme.test")
    assert response["Location"] == "/"  # signed in with the password
    assert client.get("/o/globex/").status_code == 200
    assert not AuditEvent.objects.for_org(sso_required).filter(action="login.refused").exists()


def test_owner_without_mfa_has_no_break_glass(client, owner, sso_required):
    assert login(client, owner.user.email)["Location"].startswith("/sso/")


def test_owner_with_mfa_keeps_break_glass_password_login(client, owner, sso_required):
    Authenticator.objects.create(user=owner.user, type=Authenticator.Type.TOTP,
                                 data={"secret": "x"})
    response = login(client, owner.user.email)
    assert response["Location"] == "/accounts/2fa/authenticate/"  # then the TOTP code


def test_failed_logins_are_throttled_per_account_and_audited(client, settings, owner):
    # A private cache: the shared one would mix in other sessions' failed attempts.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "throttle-test"}}
    for attempt in range(5):
        response = login(client, owner.user.email, "wrong-password", ip=f"10.1.0.{attempt}")
        assert "Too many" not in response.content.decode()
    response = login(client, owner.user.email, PASSWORD, ip="10.1.0.9")
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert AuditEvent.objects.for_org(owner.org).filter(action="login.failed").count() == 5


def test_failed_logins_are_throttled_per_client_address(client, settings, personas):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "throttle-ip-test"}}
    for role in list(personas)[:5] * 2:
        login(client, personas[role].user.email, "wrong-password", ip="10.2.0.1")
    response = login(client, personas[Role.AUDITOR].user.email, PASSWORD, ip="10.2.0.1")
    assert "Too many failed sign-in attempts" in response.content.decode()


def test_login_and_logout_are_audited(client, owner):
    login(client, owner.user.email)
    client.post("/accounts/logout/")
    actions = list(AuditEvent.objects.for_org(owner.org).values_list("action", flat=True))
    assert "login.succeeded" in actions and "logout" in actions


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_policy_page_is_read_by_everyone_and_edited_by_admins(client, personas, role):
    client.force_login(personas[role].user)
    page = client.get("/o/acme/settings/security/")
    assert page.status_code == 200
    response = client.post("/o/acme/settings/security/", {
        "session_lifetime_minutes": 60, "idle_timeout_minutes": 15,
        "max_personal_token_days": 30, "max_api_key_days": 30, "invitation_domains": ""})
    can_edit = role in (Role.OWNER, Role.ADMIN)
    assert response.status_code == (302 if can_edit else 403)
    changed = AuditEvent.objects.for_org(personas[role].org).filter(action="policy.updated")
    assert changed.exists() == can_edit


def test_outsider_gets_404_on_the_policy_page(client, outsider, org_a):
    client.force_login(outsider.user)
    assert client.get("/o/acme/settings/security/").status_code == 404


def test_password_session_from_before_sso_was_required_is_sent_to_sso(client, personas, dns):
    member = personas["member"]
    client.force_login(member.user)
    assert client.get("/o/acme/").status_code == 200
    owner = personas["owner"]
    verify_domain(dns, owner.org, owner, "acme.test")
    security_policy_update(org=owner.org, actor=owner, sso_required=True)
    shift(client, at=61)  # the policy is re-read
    assert client.get("/o/acme/members/")["Location"] == "/sso/acme/"
    session = client.session
    session["sso_org_slugs"] = ["acme"]  # what an SSO sign-in through Acme's IdP records
    session.save()
    assert client.get("/o/acme/members/").status_code == 200


def test_mfa_page_offers_totp_and_security_keys(client, owner):
    client.force_login(owner.user)
    page = client.get("/accounts/2fa/").content.decode()
    assert "Authenticator App" in page and "Security Keys" in page
