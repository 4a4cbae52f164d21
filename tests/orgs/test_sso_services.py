"""SSO rules without a browser: connections and their encrypted secret, the sign-in checks
(cross-org, verified email, never joining another org's account), JIT membership and the
group mapping, and the SocialApps the adapter hands allauth. Domains here are verified
through the operator's pre-verified list; tests/orgs/test_sso_domains.py proves them
over real DNS."""

from types import SimpleNamespace

import pytest
from allauth.account.models import EmailAddress
from allauth.core.exceptions import ImmediateHttpResponse
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import RequestFactory

from orgs.adapters import SocialAccountAdapter
from orgs.audit import AuditEvent
from orgs.events import NotificationEvent
from orgs.models import Membership
from orgs.roles import Role
from orgs.sso import idp
from orgs.sso import services as sso
from orgs.sso.models import SSOConnection
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

SECRET = "very-secret-client-secret"
DISCOVERY = {"issuer": "https://idp.example.com", "authorization_endpoint": "https://a",
             "token_endpoint": "https://t", "jwks_uri": "https://j"}


@pytest.fixture(autouse=True)
def _discovery(monkeypatch):
    monkeypatch.setattr(idp, "oidc_discovery", lambda issuer: DISCOVERY)


@pytest.fixture(autouse=True)
def _preverified(settings):
    settings.SSO_PREVERIFIED_DOMAINS = ["acme.test", "globex.test"]


def make_conn(org, actor, provider_id="acme-oidc", **fields):
    fields = {"issuer_url": "https://idp.example.com", "client_id": "cid",
              "client_secret": SECRET, "group_attribute": "groups",
              "group_roles": {"secops": Role.SECURITY, "admins": Role.ADMIN}, **fields}
    return sso.sso_connection_create(org=org, actor=actor, kind="oidc", name="Acme IdP",
                                     provider_id=provider_id, **fields)


def verify(org, actor, domain):
    row = sso.domain_add(org=org, actor=actor, domain=domain)
    return sso.domain_verify_dns(org=org, actor=actor, domain=row)


def events(org, action):
    return AuditEvent.objects.for_org(org).filter(action=action)


# --- Connections --------------------------------------------------------------------


def test_client_secret_is_stored_encrypted_never_in_plaintext(owner):
    conn = make_conn(owner.org, owner)
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM orgs_ssoconnection WHERE id = %s", [conn.pk])
        row = " ".join(str(v) for v in cursor.fetchone())
    assert SECRET not in row
    app = SocialAccountAdapter().get_app(None, provider="acme-oidc")
    assert app.secret == SECRET and app.settings["server_url"] == "https://idp.example.com"
    assert events(owner.org, "sso.connection_created").count() == 1


def test_sso_never_grants_owner(owner):
    with pytest.raises(ValidationError, match="at most the admin role"):
        make_conn(owner.org, owner, default_role=Role.OWNER)
    with pytest.raises(ValidationError, match="at most the admin role"):
        make_conn(owner.org, owner, group_roles={"root": Role.OWNER})


def test_admin_cannot_set_up_sso_above_their_role_and_members_cannot_at_all(personas):
    with pytest.raises(PermissionDenied):
        make_conn(personas["member"].org, personas["member"])
    conn = make_conn(personas["admin"].org, personas["admin"], default_role=Role.ADMIN)
    assert conn.default_role == Role.ADMIN


def test_reserved_provider_id_is_refused(owner):
    with pytest.raises(ValidationError, match="reserved"):
        make_conn(owner.org, owner, provider_id="saml")


def test_unreachable_discovery_url_is_refused_and_audited(owner, monkeypatch):
    monkeypatch.undo()
    with pytest.raises(ValidationError, match="Could not reach the discovery document"):
        make_conn(owner.org, owner, issuer_url="http://127.0.0.1:9/")
    assert not SSOConnection.objects.exists()
    assert events(owner.org, "sso.connection_rejected").count() == 1


def test_malformed_saml_metadata_is_refused_and_audited(owner):
    with pytest.raises(ValidationError, match="not valid SAML metadata XML"):
        sso.sso_connection_create(org=owner.org, actor=owner, kind="saml", name="Acme SAML",
                                  provider_id="acme-saml", idp_metadata_xml="<EntityDescriptor")
    assert not SSOConnection.objects.exists()
    [event] = events(owner.org, "sso.connection_rejected")
    assert "not valid SAML metadata XML" in event.changes["reason"]


def test_unfiltered_app_listing_reveals_no_org(owner):
    make_conn(owner.org, owner)
    assert SocialAccountAdapter().list_apps(None) == []


def test_disabled_connection_signs_nobody_in(owner):
    verify(owner.org, owner, "acme.test")
    conn = make_conn(owner.org, owner)
    conn = sso.sso_connection_update(org=owner.org, actor=owner, connection=conn,
                                     enabled=False)
    with pytest.raises(sso.SSORefused, match="turned off"):
        sso.sso_login_check(connection=conn, email="a@acme.test", email_verified=True,
                            existing_user=None)


# --- Sign-in rules --------------------------------------------------------------------


def test_org_a_connection_refuses_an_address_of_org_b(owner, outsider):
    verify(owner.org, owner, "acme.test")
    verify(outsider.org, outsider, "globex.test")
    conn = make_conn(owner.org, owner)
    with pytest.raises(sso.SSORefused, match="not in a verified domain of Acme"):
        sso.sso_login_check(connection=conn, email="bob@globex.test", email_verified=True,
                            existing_user=None)
    with pytest.raises(sso.SSORefused):
        sso.sso_login_check(connection=conn, email="eve@unclaimed.test", email_verified=True,
                            existing_user=None)
    assert events(owner.org, "sso.login_refused").count() == 2
    assert not events(outsider.org, "sso.login_refused").exists()


def test_existing_member_is_joined_only_with_an_idp_verified_email(owner):
    verify(owner.org, owner, "acme.test")
    conn = make_conn(owner.org, owner)
    user = MembershipFactory(org=owner.org, user__email="pat@acme.test").user
    with pytest.raises(sso.SSORefused, match="did not confirm"):
        sso.sso_login_check(connection=conn, email="pat@acme.test", email_verified=False,
                            existing_user=user)
    sso.sso_login_check(connection=conn, email="pat@acme.test", email_verified=True,
                        existing_user=user)


def test_sso_never_joins_an_existing_account_of_another_org(owner, outsider):
    # Issue 12.1: Globex's owner has an address in Acme's verified domain; Acme's IdP
    # vouches for it (email_verified), yet it may not sign into that account.
    verify(owner.org, owner, "acme.test")
    conn = make_conn(owner.org, owner)
    boss = MembershipFactory(org=outsider.org, user__email="boss@acme.test",
                             role=Role.OWNER).user
    with pytest.raises(sso.SSORefused, match="boss@acme.test already exists.*sign in with "
                                             "your password, then link"):
        sso.sso_login_check(connection=conn, email="boss@acme.test", email_verified=True,
                            existing_user=boss)
    assert events(owner.org, "sso.login_refused").get().changes["reason"] == \
        "existing_account_not_member"
    # The victim org's audit log shows the attempt, and its admins are told.
    [attempt] = events(outsider.org, "sso.link_refused")
    assert attempt.object_repr == "boss@acme.test"
    assert attempt.changes["connection_org"] == "acme"
    assert NotificationEvent.objects.for_org(outsider.org).filter(
        kind="security.sso_link_refused").exists()
    assert not Membership.objects.filter(org=owner.org, user=boss).exists()


def test_sso_joins_an_existing_account_that_is_already_a_member(owner):
    verify(owner.org, owner, "acme.test")
    conn = make_conn(owner.org, owner)
    member = MembershipFactory(org=owner.org, user__email="pat@acme.test").user
    sso.sso_login_check(connection=conn, email="pat@acme.test", email_verified=True,
                        existing_user=member)
    assert not events(owner.org, "sso.login_refused").exists()


def test_connect_flow_links_only_the_signed_in_persons_own_address(owner, outsider):
    verify(owner.org, owner, "acme.test")
    conn = make_conn(owner.org, owner)
    boss = MembershipFactory(org=outsider.org, user__email="boss@acme.test").user
    # Signed in with the password (and re-authenticated by allauth): may link.
    sso.sso_login_check(connection=conn, email="boss@acme.test", email_verified=True,
                        existing_user=None, connecting_user=boss)
    with pytest.raises(sso.SSORefused, match="but this account is boss@acme.test"):
        sso.sso_login_check(connection=conn, email="alice@acme.test", email_verified=True,
                            existing_user=None, connecting_user=boss)


def test_a_new_link_is_told_to_the_persons_other_orgs(owner, outsider):
    conn = make_conn(owner.org, owner)
    boss = MembershipFactory(org=outsider.org, user__email="boss@acme.test").user
    sso.sso_membership_sync(connection=conn, user=boss, groups=[], linked=True)
    assert events(owner.org, "sso.linked").count() == 1
    assert events(outsider.org, "sso.linked").get().changes["connection"] == "Acme IdP"


def test_first_sso_login_creates_membership_with_default_role(owner):
    conn = make_conn(owner.org, owner)
    user = UserFactory(email="new@acme.test")
    membership = sso.sso_membership_sync(connection=conn, user=user, groups=["engineering"],
                                         linked=True)
    assert membership.role == Role.MEMBER
    [added] = events(owner.org, "member.added").filter(object_id=str(membership.public_id))
    assert added.changes["via"] == "sso:acme-oidc"
    assert events(owner.org, "sso.linked").count() == 1


def test_group_mapping_applies_at_every_login_and_never_touches_owners(owner):
    conn = make_conn(owner.org, owner)
    user = UserFactory(email="sam@acme.test")
    m = sso.sso_membership_sync(connection=conn, user=user, groups=["secops"])
    assert m.role == Role.SECURITY
    m = sso.sso_membership_sync(connection=conn, user=user, groups=["secops", "admins"])
    assert m.role == Role.ADMIN
    m = sso.sso_membership_sync(connection=conn, user=user, groups=[])
    assert m.role == Role.MEMBER  # left the groups: back to the default role
    assert events(owner.org, "member.role_changed").count() == 2
    m = sso.sso_membership_sync(connection=conn, user=owner.user, groups=[])
    assert m.role == Role.OWNER


def test_role_mapping_ignores_owner_even_if_configured_in_the_database(owner):
    conn = make_conn(owner.org, owner)
    SSOConnection.objects.filter(pk=conn.pk).update(group_roles={"root": Role.OWNER})
    conn.refresh_from_db()
    assert sso.sso_role_for(conn, ["root"]) is None


# --- The adapter, with a minimal SocialLogin stand-in ----------------------------------


def _sociallogin(conn, email, verified=True, existing=False, user=None):
    app = SocialAccountAdapter().get_app(None, provider=conn.provider_id)
    return SimpleNamespace(
        provider=SimpleNamespace(app=app), is_existing=existing, state={"process": "login"},
        user=user or SimpleNamespace(email=email),
        email_addresses=[EmailAddress(email=email, verified=verified)],
        account=SimpleNamespace(extra_data={"userinfo": {"groups": ["secops"]}}))


def test_adapter_refuses_cross_org_login_with_a_page_and_creates_nothing(owner, outsider):
    verify(owner.org, owner, "acme.test")
    conn = make_conn(owner.org, owner)
    MembershipFactory(org=outsider.org, user__email="bob@globex.test")
    request = RequestFactory().get("/")
    with pytest.raises(ImmediateHttpResponse) as exc:
        SocialAccountAdapter().pre_social_login(request, _sociallogin(conn, "bob@globex.test"))
    assert exc.value.response.status_code == 400
    assert b"not in a verified domain of Acme" in exc.value.response.content
    assert b"link my account" not in exc.value.response.content  # no link to offer here
    assert not Membership.objects.filter(org=owner.org, user__email="bob@globex.test").exists()


def test_adapter_refuses_to_take_over_a_password_account_without_verified_email(owner):
    verify(owner.org, owner, "acme.test")
    conn = make_conn(owner.org, owner)
    UserFactory(email="pat@acme.test")
    with pytest.raises(ImmediateHttpResponse):
        SocialAccountAdapter().pre_social_login(
            RequestFactory().get("/"), _sociallogin(conn, "pat@acme.test", verified=False))
    assert events(owner.org, "sso.login_refused").get().changes["reason"] == \
        "email_not_verified"


def test_adapter_refuses_another_orgs_account_and_offers_the_owner_a_link(owner, outsider):
    verify(owner.org, owner, "acme.test")
    conn = make_conn(owner.org, owner)
    boss = MembershipFactory(org=outsider.org, user__email="boss@acme.test").user
    with pytest.raises(ImmediateHttpResponse) as exc:
        SocialAccountAdapter().pre_social_login(RequestFactory().get("/"),
                                                _sociallogin(conn, "boss@acme.test"))
    page = exc.value.response.content.decode()
    assert exc.value.response.status_code == 400
    assert "Sign in and link my account" in page and "/sso/acme/link/" in page
    assert not boss.socialaccount_set.exists()


def test_deleting_a_connection_drops_its_links(owner):
    from allauth.socialaccount.models import SocialAccount

    conn = make_conn(owner.org, owner)
    SocialAccount.objects.create(user=owner.user, provider="acme-oidc", uid="sub-1")
    sso.sso_connection_delete(org=owner.org, actor=owner, connection=conn)
    assert not SocialAccount.objects.exists()
    assert events(owner.org, "sso.connection_deleted").get().changes["unlinked_accounts"] == 1
