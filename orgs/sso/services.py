"""Writes for SSO: connections, verified domains, and what an SSO sign-in may do.

Same rules as orgs/services.py: keyword arguments with explicit org and actor, one audit
event in the same transaction, ValidationError {field: message} on bad input. A rejected
configuration (unreachable discovery URL, malformed metadata) is refused and still leaves
an `sso.connection_rejected` event, written in a transaction of its own.
"""

from allauth.socialaccount.providers import registry
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from orgs.audit import diff, record_event
from orgs.crypto import encrypt
from orgs.events import NotificationEvent, event_emit
from orgs.models import Membership, Organization
from orgs.roles import RANK, Role, can_manage
from orgs.scoping import require_member
from orgs.services import member_event_emit
from orgs.sso import idp
from orgs.sso.domains import (  # noqa: F401  the domain services, re-exported for callers
    _require,
    domain_add,
    domain_recheck,
    domain_remove,
    domain_verify_dns,
    verified_domain_org,
)
from orgs.sso.models import SSOConnection

# SSO never hands out a role above this one; owners are appointed by people.
MAX_SSO_ROLE = Role.ADMIN
EDITABLE = ("name", "enabled", "default_role", "group_attribute", "group_roles", "issuer_url",
            "client_id", "scopes", "claim_mapping", "idp_metadata_url", "idp_metadata_xml",
            "idp_entity_id", "attribute_mapping")


class SSORefused(Exception):
    """An SSO sign-in that must not go ahead; str(exc) is the message for the page,
    .reason the audited reason."""

    def __init__(self, message: str, reason: str = ""):
        super().__init__(message)
        self.reason = reason


def _check_role(actor: Membership, role: str, field: str):
    if role not in Role.values:
        raise ValidationError({field: f"'{role}' is not a role."})
    if RANK[role] > RANK[MAX_SSO_ROLE]:
        raise ValidationError({field: "SSO can grant at most the admin role; owners are "
                                      "appointed by an owner."})
    if not can_manage(actor.role, role):
        raise ValidationError({field: "You cannot grant a role above your own."})


def _check_fields(actor: Membership, conn: SSOConnection):
    _check_role(actor, conn.default_role, "default_role")
    if not isinstance(conn.group_roles, dict):
        raise ValidationError({"group_roles": "Give a JSON object of group → role."})
    for role in conn.group_roles.values():
        _check_role(actor, str(role), "group_roles")
    if conn.kind == SSOConnection.Kind.OIDC and not (conn.issuer_url and conn.client_id):
        raise ValidationError({"issuer_url": "An OpenID Connect connection needs the issuer "
                                             "URL and the client id."})


def _resolve_idp(org, actor, conn: SSOConnection):
    """Check the IdP side now, so a bad setting fails on the form, not at sign-in."""
    try:
        if conn.kind == SSOConnection.Kind.OIDC:
            idp.oidc_discovery(conn.issuer_url)
        else:
            meta = idp.saml_metadata(url=conn.idp_metadata_url, xml=conn.idp_metadata_xml,
                                     entity_id=conn.idp_entity_id)
            conn.idp_entity_id = meta.entity_id
            conn.idp_sso_url, conn.idp_x509cert = meta.sso_url, meta.x509cert
    except idp.IdPError as exc:
        with transaction.atomic():
            record_event(org=org, actor=actor, action="sso.connection_rejected",
                         object_type="ssoconnection", object_repr=conn.name[:200],
                         changes={"kind": conn.kind, "reason": str(exc)})
        raise ValidationError({exc.field: str(exc)}) from None


def sso_connection_create(*, org: Organization, actor: Membership, kind: str, name: str,
                          provider_id: str, client_secret: str = "", **fields) -> SSOConnection:
    """Admins add an OIDC or SAML connection. Checks the IdP (discovery or metadata) first,
    encrypts the client secret, audits sso.connection_created."""
    require_member(org, actor)
    _require(actor, "org:write")
    conn = SSOConnection(org=org, kind=kind, name=(name or "").strip(),
                         provider_id=(provider_id or "").strip().lower())
    for key, value in fields.items():
        if key not in EDITABLE:
            raise ValidationError({key: "This field cannot be set here."})
        setattr(conn, key, value)
    if kind == SSOConnection.Kind.OIDC and not client_secret:
        raise ValidationError({"client_secret": "Enter the client secret from the IdP."})
    _check_fields(actor, conn)
    conn.full_clean(exclude=["client_secret_encrypted"])
    if registry.get_class(conn.provider_id) is not None:
        # allauth would take the id for its own provider of that name.
        raise ValidationError({"provider_id": f"'{conn.provider_id}' is reserved. Choose "
                                              "another, e.g. your org's address plus -sso."})
    _resolve_idp(org, actor, conn)
    if client_secret:
        conn.client_secret_encrypted = encrypt(client_secret)
    with transaction.atomic():
        try:
            with transaction.atomic():
                conn.save()
        except IntegrityError:
            raise ValidationError({"provider_id": "This id is taken. Choose another."}) from None
        record_event(org=org, actor=actor, action="sso.connection_created", obj=conn,
                     changes={"kind": [None, kind], "provider_id": [None, conn.provider_id],
                              "default_role": [None, conn.default_role]})
    return conn


def sso_connection_update(*, org: Organization, actor: Membership, connection: SSOConnection,
                          client_secret: str = "", **fields) -> SSOConnection:
    """Admins change a connection; an empty client_secret keeps the stored one. Audits
    sso.connection_updated with before and after (the secret only as 'changed')."""
    require_member(org, actor)
    _require(actor, "org:write")
    conn = SSOConnection.objects.for_org(org).get(pk=connection.pk)
    before = {f: getattr(conn, f) for f in EDITABLE}
    for key, value in fields.items():
        if key not in EDITABLE:
            raise ValidationError({key: "This field cannot be changed here."})
        setattr(conn, key, value)
    _check_fields(actor, conn)
    conn.full_clean(exclude=["client_secret_encrypted"])
    _resolve_idp(org, actor, conn)
    changes = diff(before, {f: getattr(conn, f) for f in EDITABLE})
    if "idp_metadata_xml" in changes:  # too long for the log; the event says it changed
        changes["idp_metadata_xml"] = "changed"
    if client_secret:
        conn.client_secret_encrypted = encrypt(client_secret)
        changes["client_secret"] = "changed"
    conn.updated_at = timezone.now()
    with transaction.atomic():
        conn.save()
        if changes:
            record_event(org=org, actor=actor, action="sso.connection_updated", obj=conn,
                         changes=changes)
    return conn


@transaction.atomic
def sso_connection_delete(*, org: Organization, actor: Membership, connection: SSOConnection):
    """Admins remove a connection; people linked through it sign in another way. Their
    links go too, so a later connection reusing the id (perhaps another org's) can never
    sign in through them. Audits sso.connection_deleted."""
    require_member(org, actor)
    from allauth.socialaccount.models import SocialAccount

    _require(actor, "org:write")
    conn = SSOConnection.objects.for_org(org).select_for_update().get(pk=connection.pk)
    unlinked, _ = SocialAccount.objects.filter(provider=conn.provider_id).delete()
    record_event(org=org, actor=actor, action="sso.connection_deleted", obj=conn,
                 changes={"unlinked_accounts": unlinked})
    conn.delete()


# --- Sign-in rules ----------------------------------------------------------------------


def _tell_account_orgs(*, user, connection: SSOConnection, action: str, changes: dict):
    """Audit (and tell the admins of) every org the account belongs to, other than the
    connection's: the orgs a takeover through a foreign IdP would hit. Caller's
    transaction."""
    for membership in Membership.objects.filter(user=user).exclude(
            org_id=connection.org_id).select_related("org"):
        record_event(org=membership.org, actor=None, action=action,
                     object_type="user", object_id=str(user.pk), object_repr=user.email,
                     changes={**changes, "connection": connection.name,
                              "connection_org": connection.org.slug})
        event_emit(org=membership.org, kind=f"security.sso_{action.split('.', 1)[1]}",
                   severity=NotificationEvent.Severity.WARNING,
                   payload={"email": user.email, "connection": connection.name,
                            "connection_org": connection.org.name})


def sso_login_refuse(*, connection: SSOConnection, email: str, reason: str, message: str,
                     existing_user=None):
    """Record why an SSO sign-in was refused (sso.login_refused in the connection's org,
    and sso.link_refused in every org of the existing account it aimed at), then raise
    SSORefused. Its own transaction: the refusal is kept although nothing else is."""
    with transaction.atomic():
        record_event(org=connection.org, actor=None, action="sso.login_refused",
                     obj=connection, changes={"email": email, "reason": reason})
        if existing_user is not None:
            _tell_account_orgs(user=existing_user, connection=connection,
                               action="sso.link_refused", changes={"reason": reason})
    raise SSORefused(message, reason)


def sso_login_check(*, connection: SSOConnection, email: str, email_verified: bool,
                    existing_user, connecting_user=None) -> None:
    """Before anything is written: may this IdP answer sign this address in?

    Called by the social account adapter for every SSO answer. The address must be in a
    verified domain of the connection's own org (so org A's IdP can never sign in org B's
    people). An existing account is joined only when the IdP vouches for the address
    (email_verified) and the account is already a member of the connection's org: any
    other account is linked only by its owner, signed in with a password and confirming
    it (connecting_user, allauth's connect flow with re-authentication). Refusals are
    audited (sso_login_refuse).
    """
    def refuse(reason, message, user=None):
        sso_login_refuse(connection=connection, email=email, reason=reason, message=message,
                         existing_user=user)

    if not connection.enabled:
        refuse("connection_disabled", f"{connection.name} is turned off. Ask an admin of "
               f"{connection.org.name} how to sign in now.")
    org_of_domain = verified_domain_org(email)
    if not email or org_of_domain is None or org_of_domain.pk != connection.org_id:
        refuse("domain_not_verified", f"{email or 'This account'} is not in a verified "
               f"domain of {connection.org.name}, so {connection.name} cannot sign it in.",
               existing_user)
    if connecting_user is not None:
        if connecting_user.email.lower() != email:
            refuse("connect_email_mismatch", f"{connection.name} signed you in as {email}, "
                   f"but this account is {connecting_user.email}. Link an identity with "
                   "the same address.", connecting_user)
        return
    if existing_user is not None and not email_verified:
        refuse("email_not_verified", f"An account for {email} exists, and "
               f"{connection.name} did not confirm that the address is verified, so it "
               "cannot be joined. Ask your IdP administrator to release email_verified.",
               existing_user)
    if existing_user is not None and not Membership.objects.for_org(connection.org).filter(
            user=existing_user).exists():
        refuse("existing_account_not_member", f"An account for {email} already exists. "
               f"{connection.name} cannot sign into it until its owner links it: sign in "
               f"with your password, then link the account to {connection.org.name}'s "
               "single sign-on.", existing_user)


def sso_role_for(connection: SSOConnection, groups: list[str]) -> str | None:
    """The highest role the person's groups map to (capped at admin), or None."""
    roles = [connection.group_roles.get(g) for g in groups]
    roles = [r for r in roles if r in Role.values and RANK[r] <= RANK[MAX_SSO_ROLE]]
    return max(roles, key=lambda r: RANK[r]) if roles else None


@transaction.atomic
def sso_membership_sync(*, connection: SSOConnection, user, groups: list[str],
                        linked: bool = False) -> Membership:
    """After a successful SSO sign-in: create the membership with the default (or mapped)
    role, or re-apply the group mapping. Owners are never changed by SSO and never made.
    Audits member.added (via SSO), member.role_changed and sso.linked, actor the person;
    a new link is also audited in the person's other orgs (event security.sso_linked)."""
    org = connection.org
    mapped = sso_role_for(connection, groups) if connection.group_attribute else None
    membership = Membership.objects.for_org(org).select_for_update().filter(user=user).first()
    via = {"via": f"sso:{connection.provider_id}", "groups": groups[:20]}
    if linked:
        record_event(org=org, actor=user, action="sso.linked", obj=connection,
                     changes={"email": user.email})
        # The person's other orgs learn that an outside IdP can now sign into this account.
        _tell_account_orgs(user=user, connection=connection, action="sso.linked",
                           changes={"email": user.email})
    if membership is None:
        role = mapped or connection.default_role
        membership = Membership.objects.create(org=org, user=user, role=role)
        record_event(org=org, actor=user, action="member.added", obj=membership,
                     changes={"role": [None, role], **via})
        member_event_emit(org=org, kind="member.joined", membership=membership,
                          via=via["via"])
        return membership
    if mapped is None and connection.group_roles:
        mapped = connection.default_role
    if mapped and membership.role != Role.OWNER and membership.role != mapped:
        old, membership.role = membership.role, mapped
        membership.save(update_fields=["role"])
        record_event(org=org, actor=user, action="member.role_changed", obj=membership,
                     changes={"role": [old, mapped], **via})
        member_event_emit(org=org, kind="member.role_changed", membership=membership,
                          old_role=old, via=via["via"])
    return membership
