"""Writes for SSO: connections, verified domains, and what an SSO sign-in may do.

Same rules as orgs/services.py: keyword arguments with explicit org and actor, one audit
event in the same transaction, ValidationError {field: message} on bad input. A rejected
configuration (unreachable discovery URL, malformed metadata) is refused and still leaves
an `sso.connection_rejected` event, written in a transaction of its own.
"""

from allauth.socialaccount.providers import registry
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from orgs.audit import diff, record_event
from orgs.crypto import encrypt
from orgs.models import Membership, Organization
from orgs.roles import RANK, Role, can_manage
from orgs.services import member_event_emit
from orgs.sso import idp
from orgs.sso.models import SSOConnection, VerifiedDomain

# SSO never hands out a role above this one; owners are appointed by people.
MAX_SSO_ROLE = Role.ADMIN
EDITABLE = ("name", "enabled", "default_role", "group_attribute", "group_roles", "issuer_url",
            "client_id", "scopes", "claim_mapping", "idp_metadata_url", "idp_metadata_xml",
            "idp_entity_id", "attribute_mapping")


class SSORefused(Exception):
    """An SSO sign-in that must not go ahead; str(exc) is the message for the page."""


def _require(actor: Membership, scope: str):
    if not actor.has_scope(scope):
        raise PermissionDenied(f"Your role ({actor.get_role_display()}) cannot do this.")


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
    from allauth.socialaccount.models import SocialAccount

    _require(actor, "org:write")
    conn = SSOConnection.objects.for_org(org).select_for_update().get(pk=connection.pk)
    unlinked, _ = SocialAccount.objects.filter(provider=conn.provider_id).delete()
    record_event(org=org, actor=actor, action="sso.connection_deleted", obj=conn,
                 changes={"unlinked_accounts": unlinked})
    conn.delete()


# --- Verified domains -------------------------------------------------------------------


def _domain_taken(domain: str, org) -> bool:
    return VerifiedDomain.objects.filter(domain=domain, verified_at__isnull=False).exclude(
        org=org).exists()


@transaction.atomic
def domain_add(*, org: Organization, actor: Membership, domain: str) -> VerifiedDomain:
    """Admins claim an email domain; it counts once verified. Audits domain.added."""
    _require(actor, "org:write")
    domain = (domain or "").strip().lower().lstrip("@").rstrip(".")
    row = VerifiedDomain(org=org, domain=domain)
    row.full_clean(exclude=["txt_token"])
    if VerifiedDomain.objects.for_org(org).filter(domain=domain).exists():
        raise ValidationError({"domain": f"{domain} is already listed."})
    if _domain_taken(domain, org):
        raise ValidationError({"domain": f"{domain} is verified by another organization."})
    row.save()
    record_event(org=org, actor=actor, action="domain.added", obj=row,
                 changes={"domain": [None, domain]})
    return row


def _mark_verified(org, actor, row, method):
    row = VerifiedDomain.objects.for_org(org).select_for_update().get(pk=row.pk)
    if _domain_taken(row.domain, org):
        raise ValidationError({"domain": f"{row.domain} is verified by another organization."})
    row.verified_at, row.method = timezone.now(), method
    try:
        with transaction.atomic():
            row.save(update_fields=["verified_at", "method"])
    except IntegrityError:
        raise ValidationError({"domain": f"{row.domain} is verified by another "
                                         "organization."}) from None
    record_event(org=org, actor=actor, action="domain.verified", obj=row,
                 changes={"verified_at": [None, row.verified_at], "method": [None, method]})
    return row


def domain_verify_dns(*, org: Organization, actor: Membership, domain: VerifiedDomain,
                      resolver=None) -> VerifiedDomain:
    """Admins prove a domain by its DNS TXT record. resolver(domain) -> [txt strings]
    (tests pass a fake). Audits domain.verified, or domain.verification_failed."""
    _require(actor, "org:write")
    records = (resolver or idp.txt_records)(domain.domain)
    if domain.txt_record not in records:
        with transaction.atomic():
            record_event(org=org, actor=actor, action="domain.verification_failed", obj=domain)
        raise ValidationError({"domain": f"No TXT record {domain.txt_record} found on "
                                         f"{domain.domain} yet. DNS changes can take a while."})
    with transaction.atomic():
        return _mark_verified(org, actor, domain, VerifiedDomain.Method.DNS)


@transaction.atomic
def domain_confirm(*, org: Organization, actor: Membership,
                   domain: VerifiedDomain) -> VerifiedDomain:
    """An owner vouches for a domain without DNS. Audits domain.verified (method owner)."""
    if not actor.has_scope("org:delete"):
        raise PermissionDenied("Only an owner can confirm a domain without DNS.")
    return _mark_verified(org, actor, domain, VerifiedDomain.Method.OWNER)


@transaction.atomic
def domain_remove(*, org: Organization, actor: Membership, domain: VerifiedDomain):
    """Admins drop a domain; SSO stops accepting its addresses. Audits domain.removed."""
    _require(actor, "org:write")
    row = VerifiedDomain.objects.for_org(org).select_for_update().get(pk=domain.pk)
    record_event(org=org, actor=actor, action="domain.removed", obj=row)
    row.delete()


def verified_domain_org(email: str) -> Organization | None:
    """The org that verified the domain of email, or None."""
    domain = (email or "").rsplit("@", 1)[-1].strip().lower()
    row = VerifiedDomain.objects.select_related("org").filter(
        domain=domain, verified_at__isnull=False).first()
    return row.org if row else None


# --- Sign-in rules ----------------------------------------------------------------------


def sso_login_refuse(*, connection: SSOConnection, email: str, reason: str, message: str):
    """Record why an SSO sign-in was refused (sso.login_refused) and raise SSORefused."""
    with transaction.atomic():
        record_event(org=connection.org, actor=None, action="sso.login_refused",
                     obj=connection, changes={"email": email, "reason": reason})
    raise SSORefused(message)


def sso_login_check(*, connection: SSOConnection, email: str, email_verified: bool,
                    existing_user) -> None:
    """Before anything is written: may this IdP answer sign this address in?

    The address must be in a verified domain of the connection's own org (so org A's IdP
    can never sign in org B's people), and an existing account is only ever joined when
    the IdP vouches for the address (email_verified).
    """
    if not connection.enabled:
        sso_login_refuse(connection=connection, email=email, reason="connection_disabled",
                         message=f"{connection.name} is turned off. Ask an admin of "
                         f"{connection.org.name} how to sign in now.")
    org_of_domain = verified_domain_org(email)
    if not email or org_of_domain is None or org_of_domain.pk != connection.org_id:
        sso_login_refuse(
            connection=connection, email=email, reason="domain_not_verified",
            message=f"{email or 'This account'} is not in a verified domain of "
            f"{connection.org.name}, so {connection.name} cannot sign it in.")
    if existing_user is not None and not email_verified:
        sso_login_refuse(
            connection=connection, email=email, reason="email_not_verified",
            message=f"An account for {email} exists, and {connection.name} did not confirm "
            "that the address is verified, so it cannot be joined. Ask your IdP "
            "administrator to release email_verified.")


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
    Audits member.added (via SSO), member.role_changed and sso.linked, actor the person."""
    org = connection.org
    mapped = sso_role_for(connection, groups) if connection.group_attribute else None
    membership = Membership.objects.for_org(org).select_for_update().filter(user=user).first()
    via = {"via": f"sso:{connection.provider_id}", "groups": groups[:20]}
    if linked:
        record_event(org=org, actor=user, action="sso.linked", obj=connection,
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
