"""The glue between allauth and SSO connections, used by orgs.adapters and the SSO views.

SocialApps are built in memory from SSOConnection rows on every lookup, with the
client secret decrypted only then. Both the OIDC and the SAML provider use the
connection's provider_id in their URLs (/accounts/oidc/<id>/..., /accounts/saml/<id>/...).
"""

import requests
from allauth.socialaccount.models import SocialApp
from django.db import transaction

from orgs.audit import record_event
from orgs.crypto import decrypt
from orgs.models import Membership
from orgs.roles import Role
from orgs.sso.models import SSOConnection

PROVIDER = {SSOConnection.Kind.OIDC: "openid_connect", SSOConnection.Kind.SAML: "saml"}
# What allauth's SAML provider reads when no mapping is configured: plain attribute names,
# which is what most IdPs can be told to release.
DEFAULT_SAML_MAPPING = {"uid": "uid", "email": "email", "email_verified": "email_verified",
                        "first_name": "first_name", "last_name": "last_name"}


def social_app(conn: SSOConnection) -> SocialApp:
    """An unsaved SocialApp for allauth, built from one connection."""
    common = {"connection": conn.pk, "email_authentication": True}
    if conn.kind == SSOConnection.Kind.OIDC:
        settings = {**common, "server_url": conn.issuer_url,
                    "scope": conn.scopes.split() or ["openid", "profile", "email"],
                    "token_auth_method": "client_secret_post"}
        if conn.claim_mapping.get("uid"):
            settings["uid_field"] = conn.claim_mapping["uid"]
        secret = decrypt(conn.client_secret_encrypted) if conn.client_secret_encrypted else ""
        return SocialApp(provider="openid_connect", provider_id=conn.provider_id,
                         name=conn.name, client_id=conn.client_id, secret=secret,
                         settings=settings)
    mapping = {**DEFAULT_SAML_MAPPING, **conn.attribute_mapping}
    settings = {**common, "attribute_mapping": mapping,
                "idp": {"entity_id": conn.idp_entity_id, "sso_url": conn.idp_sso_url,
                        "x509cert": conn.idp_x509cert},
                # python3-saml checks Destination, Recipient, audience and signatures.
                "advanced": {"strict": True, "want_assertion_signed": True,
                             "reject_idp_initiated_sso": True}}
    return SocialApp(provider="saml", provider_id=conn.provider_id, name=conn.name,
                     client_id=conn.provider_id, settings=settings)


def social_apps(*, provider=None, client_id=None) -> list[SocialApp]:
    """Apps for allauth's targeted lookups. Disabled connections are included so that the
    accounts linked through them still display; signing in through one is refused by
    sso_login_check, and "Continue with SSO" only offers enabled ones."""
    qs = SSOConnection.objects.all()
    if provider in PROVIDER.values():
        kind = next(k for k, v in PROVIDER.items() if v == provider)
        qs = qs.filter(kind=kind)
        if client_id and kind == SSOConnection.Kind.SAML:
            qs = qs.filter(provider_id=client_id)
        elif client_id:
            qs = qs.filter(client_id=client_id)
    elif provider:
        qs = qs.filter(provider_id=provider)
    else:
        qs = qs.filter(provider_id=client_id)
    return [social_app(conn) for conn in qs.select_related("org")]


def connection_of_provider(provider) -> SSOConnection | None:
    app = getattr(provider, "app", None)
    pk = app.settings.get("connection") if app is not None else None
    if pk is None:
        return None
    return SSOConnection.objects.select_related("org").filter(pk=pk).first()


def connection_of(sociallogin) -> SSOConnection | None:
    return connection_of_provider(sociallogin.provider)


def email_of(sociallogin) -> tuple[str, bool]:
    """(address, verified by the IdP) of an SSO answer."""
    email = (sociallogin.user.email or "").strip().lower()
    verified = False
    for address in sociallogin.email_addresses:
        if address.email.lower() == email or not email:
            email = email or address.email.lower()
            verified = verified or bool(address.verified)
    return email, verified


def groups_of(sociallogin, conn: SSOConnection) -> list[str]:
    """The group names the IdP sent in the connection's group claim or attribute."""
    if not conn.group_attribute:
        return []
    data = sociallogin.account.extra_data or {}
    if conn.kind == SSOConnection.Kind.OIDC:
        value = (data.get("userinfo") or {}).get(conn.group_attribute)
        if value is None:
            value = (data.get("id_token") or {}).get(conn.group_attribute)
    else:
        value = data.get(conn.group_attribute)
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    return [str(v) for v in value]


def explain_error(conn: SSOConnection, error, exception, extra: dict) -> tuple[str, str]:
    """(message for the page, reason for the audit log) of a failed SSO round trip."""
    name = conn.name
    ask = f"Ask an admin of {conn.org.name} to check the SSO connection."
    if extra.get("saml_errors"):
        reason = str(extra.get("saml_last_error_reason") or ", ".join(extra["saml_errors"]))
        return (f"{name} sent a SAML response that was rejected: {reason}. {ask}", reason)
    text = str(exception or error or "unknown error")
    if isinstance(exception, requests.RequestException):
        return (f"{name} could not be reached ({type(exception).__name__}). Try again "
                f"later. {ask}", text)
    if "invalid_client" in text or "401" in text:
        return (f"{name} refused our credentials (invalid client): the client id or secret "
                f"configured here is wrong. {ask}", text[:300])
    return (f"Sign-in with {name} did not complete ({text[:200]}). {ask}", text[:300])


def record_failure(conn: SSOConnection, reason: str):
    with transaction.atomic():
        record_event(org=conn.org, actor=None, action="sso.login_failed", obj=conn,
                     changes={"reason": reason[:500]})


def start(request, conn: SSOConnection, next_url: str, process: str = "login"):
    """Send the browser to the connection's IdP (allauth's provider redirect). process
    "connect" links the answer to the signed-in account (after re-authentication)."""
    provider = social_app(conn).get_provider(request)
    return provider.redirect(request, process=process, next_url=next_url)


def password_login_refusal(user) -> str | None:
    """Why this user may not sign in with a password, or None.

    SSO-required orgs refuse passwords for their own members whose address is in one of
    their verified domains; an account that is not a member there is never bound by
    another org's policy, whatever its address (issue 12.1). Owners of that org keep a
    break-glass password sign-in, but only with MFA set up (allauth then asks for the
    code). Audits login.refused in that org.
    """
    from allauth.mfa.models import Authenticator

    from orgs.session_policy import MFA_TYPES
    from orgs.sso.services import verified_domain_org

    org = verified_domain_org(user.email)
    if org is None or not getattr(getattr(org, "security_policy", None), "sso_required",
                                  False):
        return None
    membership = Membership.objects.for_org(org).filter(user=user).first()
    if membership is None:
        return None
    if membership.role == Role.OWNER and Authenticator.objects.filter(
            user=user, type__in=MFA_TYPES).exists():
        return None
    with transaction.atomic():
        record_event(org=org, actor=user, action="login.refused",
                     object_type="user", object_id=str(user.pk), object_repr=user.email,
                     changes={"reason": "sso_required"})
    return (f"{org.name} requires single sign-on for {user.email.rsplit('@', 1)[-1]} "
            "addresses. Use “Continue with SSO” to sign in through your identity provider.")
