"""SSO pages and API: who may open them, what a bad configuration says on the page, and
"Continue with SSO" routing by email domain."""

import pytest

from orgs.audit import AuditEvent
from orgs.roles import Role
from orgs.sso import idp
from orgs.sso import services as sso
from orgs.sso.models import SSOConnection, VerifiedDomain
from tests.dns_components import verify_domain
from tests.sso_components import free_port

pytestmark = pytest.mark.django_db

DISCOVERY = {"issuer": "https://idp.example.com", "authorization_endpoint": "https://a",
             "token_endpoint": "https://t", "jwks_uri": "https://j"}
OIDC_FORM = {"name": "Acme IdP", "provider_id": "acme-oidc", "enabled": "on",
             "default_role": "member", "issuer_url": "https://idp.example.com",
             "client_id": "cid", "client_secret": "the-secret", "scopes": "openid email",
             "group_attribute": "groups", "group_roles": "secops = security"}


@pytest.fixture
def discovery(monkeypatch):
    monkeypatch.setattr(idp, "oidc_discovery", lambda issuer: DISCOVERY)


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_sso_settings_are_for_admins_and_owners(client, personas, role):
    client.force_login(personas[role].user)
    allowed = role in (Role.OWNER, Role.ADMIN)
    assert client.get("/o/acme/settings/sso/").status_code == (200 if allowed else 403)
    assert client.get("/o/acme/settings/sso/new/oidc/").status_code == (200 if allowed else 403)
    api = client.get("/api/v1/o/acme/sso/connections/")
    assert api.status_code == (200 if allowed else 403)


def test_outsider_gets_404(client, outsider, org_a):
    client.force_login(outsider.user)
    assert client.get("/o/acme/settings/sso/").status_code == 404
    assert client.get("/api/v1/o/acme/security-policy/").status_code == 404


def test_admin_creates_oidc_connection_in_the_page(client, owner, discovery):
    client.force_login(owner.user)
    response = client.post("/o/acme/settings/sso/new/oidc/", OIDC_FORM)
    conn = SSOConnection.objects.get()
    assert response["Location"] == f"/o/acme/settings/sso/{conn.public_id}/"
    assert conn.group_roles == {"secops": "security"}
    page = client.get(response["Location"]).content.decode()
    assert "http://testserver/accounts/oidc/acme-oidc/login/callback/" in page
    assert "the-secret" not in page


def test_unreachable_discovery_url_is_explained_on_the_page(client, owner):
    client.force_login(owner.user)
    form = {**OIDC_FORM, "issuer_url": f"http://127.0.0.1:{free_port()}"}
    response = client.post("/o/acme/settings/sso/new/oidc/", form)
    assert response.status_code == 400
    assert "Could not reach the discovery document" in response.content.decode()
    assert not SSOConnection.objects.exists()
    assert AuditEvent.objects.for_org(owner.org).filter(
        action="sso.connection_rejected").exists()


def test_malformed_metadata_xml_is_explained_on_the_page(client, owner):
    client.force_login(owner.user)
    response = client.post("/o/acme/settings/sso/new/saml/", {
        "name": "Acme SAML", "provider_id": "acme-saml", "enabled": "on",
        "default_role": "member", "idp_metadata_xml": "<md:EntityDescriptor><oops>"})
    assert response.status_code == 400
    assert "not valid SAML metadata XML" in response.content.decode()
    assert not SSOConnection.objects.exists()
    assert AuditEvent.objects.for_org(owner.org).filter(
        action="sso.connection_rejected").exists()


def test_owner_role_is_not_offered_as_default(client, owner):
    client.force_login(owner.user)
    page = client.get("/o/acme/settings/sso/new/oidc/").content.decode()
    assert 'value="admin"' in page and 'value="owner"' not in page


def test_continue_with_sso_routes_by_verified_domain(client, owner, discovery, dns):
    verify_domain(dns, owner.org, owner, "acme.test")
    response = client.post("/sso/", {"email": "someone@unknown.test"})
    assert response.status_code == 400
    assert "No organization has set up single sign-on" in response.content.decode()
    # Acme's domain, but no connection yet: still nothing to send the person to.
    assert client.get("/sso/acme/").status_code == 404


def test_login_page_offers_continue_with_sso_and_no_provider_list(client, owner, discovery):
    sso.sso_connection_create(org=owner.org, actor=owner, kind="oidc", name="Secret Corp IdP",
                              provider_id="acme-oidc", issuer_url="https://idp.example.com",
                              client_id="cid", client_secret="s")
    page = client.get("/accounts/login/").content.decode()
    assert "Continue with SSO" in page and "Secret Corp IdP" not in page


# --- API ------------------------------------------------------------------------------


def test_api_connection_lifecycle_never_returns_the_secret(client, owner, discovery):
    client.force_login(owner.user)
    created = client.post("/api/v1/o/acme/sso/connections/", {
        "kind": "oidc", "name": "Acme IdP", "provider_id": "acme-oidc",
        "issuer_url": "https://idp.example.com", "client_id": "cid",
        "client_secret": "api-secret", "group_roles": {"secops": "security"}},
        content_type="application/json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert "client_secret" not in body and body["has_client_secret"] is True
    url = f"/api/v1/o/acme/sso/connections/{body['public_id']}/"
    patched = client.patch(url, {"default_role": "owner"}, content_type="application/json")
    assert patched.status_code == 400
    assert "admin" in patched.json()["default_role"][0]
    assert client.patch(url, {"enabled": False}, content_type="application/json").json()[
        "enabled"] is False
    assert client.delete(url).status_code == 204


def test_api_domain_verification_reads_real_dns(client, owner, dns):
    client.force_login(owner.user)
    row = client.post("/api/v1/o/acme/domains/", {"domain": "acme.test"},
                      content_type="application/json").json()
    url = f"/api/v1/o/acme/domains/{row['public_id']}/verify/"
    refused = client.post(url, {}, content_type="application/json")
    assert refused.status_code == 400
    assert "No TXT record" in refused.json()["domain"][0]
    dns.publish("acme.test", row["txt_record"])
    verified = client.post(url, {}, content_type="application/json")
    assert verified.status_code == 200 and verified.json()["method"] == "dns"


def test_api_owner_confirmation_is_refused_and_changes_nothing(client, owner):
    # Issue 12.1: "confirm as owner" verified any domain on an owner's word.
    client.force_login(owner.user)
    row = client.post("/api/v1/o/acme/domains/", {"domain": "globex.test"},
                      content_type="application/json").json()
    response = client.post(f"/api/v1/o/acme/domains/{row['public_id']}/verify/",
                           {"method": "owner"}, content_type="application/json")
    assert response.status_code == 400
    assert "not a valid choice" in response.json()["method"][0]
    assert VerifiedDomain.objects.get(public_id=row["public_id"]).verified_at is None


def test_settings_page_offers_no_owner_confirmation(client, owner, dns):
    client.force_login(owner.user)
    sso.domain_add(org=owner.org, actor=owner, domain="acme.test")
    page = client.get("/o/acme/settings/sso/").content.decode()
    assert "Check DNS for acme.test" in page and "as owner" not in page
    response = client.post(f"/o/acme/settings/domains/"
                           f"{VerifiedDomain.objects.get().public_id}/verify/",
                           {"method": "owner"})
    assert response.status_code == 302  # checked DNS instead, which has no record
    assert VerifiedDomain.objects.get().verified_at is None


def test_api_security_policy(client, personas):
    client.force_login(personas["member"].user)
    assert client.get("/api/v1/o/acme/security-policy/").json()["sso_required"] is False
    assert client.patch("/api/v1/o/acme/security-policy/", {"mfa_required": True},
                        content_type="application/json").status_code == 403
    client.force_login(personas["admin"].user)
    response = client.patch("/api/v1/o/acme/security-policy/", {"idle_timeout_minutes": 30},
                            content_type="application/json")
    assert response.status_code == 200 and response.json()["idle_timeout_minutes"] == 30
    assert AuditEvent.objects.for_org(personas["admin"].org).filter(
        action="policy.updated").exists()


def test_connection_list_query_count(client, owner, discovery, django_assert_num_queries):
    for n in range(3):
        sso.sso_connection_create(org=owner.org, actor=owner, kind="oidc", name=f"IdP {n}",
                                  provider_id=f"acme-{n}", issuer_url="https://i.example.com",
                                  client_id="c", client_secret="s")
    client.force_login(owner.user)
    client.get("/o/acme/")  # warm the session's cached policy
    # session, user, membership+org, count, page of connections
    with django_assert_num_queries(5):
        assert client.get("/api/v1/o/acme/sso/connections/").json()["count"] == 3


def test_an_org_with_two_connections_lets_the_person_choose(client, owner, discovery,
                                                           dns):
    verify_domain(dns, owner.org, owner, "acme.test")
    for name, provider_id in (("Acme Okta", "acme-okta"), ("Acme Entra", "acme-entra")):
        sso.sso_connection_create(org=owner.org, actor=owner, kind="oidc", name=name,
                                  provider_id=provider_id, issuer_url="https://i.example.com",
                                  client_id="c", client_secret="s")
    page = client.post("/sso/", {"email": "alice@acme.test"}).content.decode()
    assert "Continue with Acme Okta" in page and "Continue with Acme Entra" in page
