"""Writes for orgs: one service per verb, each atomic with its audit event.

Services take keyword arguments with an explicit `org` and `actor` (a Membership), raise
django ValidationError with a {field: message} dict on bad input, and PermissionDenied
when the actor lacks the scope. Views and the API only translate those.
"""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from orgs import token_policy
from orgs.audit import AuditChainHead, diff, record_event
from orgs.events import event_emit
from orgs.models import (
    RESERVED_SLUGS,
    Invitation,
    Membership,
    Organization,
    PersonalToken,
    hash_secret,
)
from orgs.permissions import can_change_role, can_remove
from orgs.policy import POLICY_FIELDS, SecurityPolicy
from orgs.roles import Role, can_manage
from orgs.scoping import require_member
from orgs.signals import member_removing

INVITATION_DAYS = 7
ORG_FIELDS = ("name", "billing_owner", "renewal_contact_email", "finance_contact_email")


def _require(actor: Membership, scope: str):
    if not actor.has_scope(scope):
        raise PermissionDenied(f"Your role ({actor.get_role_display()}) cannot do this.")


def _check_slug(slug: str, *, exclude_pk=None):
    if slug in RESERVED_SLUGS:
        raise ValidationError({"slug": f"'{slug}' is reserved. Choose another."})
    if Organization.objects.filter(slug=slug).exclude(pk=exclude_pk).exists():
        raise ValidationError({"slug": f"The address '{slug}' is taken. Choose another."})


@transaction.atomic
def org_create(*, user, name: str, slug: str, renewal_contact_email: str = "",
               finance_contact_email: str = "") -> Organization:
    """Any signed-in user creates an org and becomes its owner and billing owner.

    Audits org.created and member.added in the new org's chain.
    """
    slug = slug.strip().lower()
    _check_slug(slug)
    org = Organization(name=name.strip(), slug=slug, renewal_contact_email=renewal_contact_email,
                       finance_contact_email=finance_contact_email)
    org.full_clean()
    org.save()
    AuditChainHead.objects.create(org=org)
    SecurityPolicy.objects.create(org=org)
    owner = Membership.objects.create(org=org, user=user, role=Role.OWNER)
    org.billing_owner = owner
    org.save(update_fields=["billing_owner"])
    record_event(org=org, actor=owner, action="org.created", obj=org,
                 changes={"name": [None, org.name], "slug": [None, org.slug]})
    record_event(org=org, actor=owner, action="member.added", obj=owner,
                 changes={"role": [None, owner.role]})
    return org


@transaction.atomic
def org_update(*, org: Organization, actor: Membership, **fields) -> Organization:
    """Admins and owners edit the org's name and contacts (slug stays: it is in every URL)."""
    require_member(org, actor)
    _require(actor, "org:write")
    org = Organization.objects.select_for_update().get(pk=org.pk)
    owner = fields.get("billing_owner")
    if owner is not None and owner.org_id != org.pk:
        raise ValidationError({"billing_owner": "The billing owner must be a member of this org."})
    before = {f: _audit_value(getattr(org, f)) for f in ORG_FIELDS}
    for key, value in fields.items():
        if key not in ORG_FIELDS:
            raise ValidationError({key: "This field cannot be changed here."})
        setattr(org, key, value)
    org.full_clean()
    org.save()
    after = {f: _audit_value(getattr(org, f)) for f in ORG_FIELDS}
    if changes := diff(before, after):
        record_event(org=org, actor=actor, action="org.updated", obj=org, changes=changes)
    return org


def _audit_value(value):
    return getattr(value, "user", value).__str__() if value is not None else None


@transaction.atomic
def invitation_create(*, org: Organization, actor: Membership, email: str, role: str,
                      days: int = INVITATION_DAYS) -> tuple[Invitation, str]:
    """Invite an address with a role; returns (invitation, one-time token).

    Needs members:write and a role no higher than the actor's. Mails the accept link
    after commit. Audits invitation.created.
    """
    require_member(org, actor)
    _require(actor, "members:write")
    email = (email or "").strip().lower()
    if role not in Role.values:
        raise ValidationError({"role": f"'{role}' is not a role."})
    if not can_manage(actor.role, role):
        raise ValidationError({"role": "You cannot invite someone to a role above your own."})
    if not 1 <= days <= 30:
        raise ValidationError({"days": "An invitation is valid for 1 to 30 days."})
    domains = security_policy_get(org=org).invitation_domain_list()
    if domains and email.rsplit("@", 1)[-1] not in domains:
        raise ValidationError({"email": "This organization only invites addresses at "
                                        f"{', '.join(domains)}."})
    if Membership.objects.for_org(org).filter(user__email__iexact=email).exists():
        raise ValidationError({"email": f"{email} is already a member."})
    stale = Invitation.objects.for_org(org).filter(
        email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True
    )
    if stale.filter(expires_at__gt=timezone.now()).exists():
        raise ValidationError({"email": f"{email} already has an open invitation. "
                                        "Revoke it first to send a new one."})
    stale.update(revoked_at=timezone.now())  # expired leftovers no longer block the address
    token, token_hash = Invitation.new_token()
    invitation = Invitation(org=org, email=email, role=role, token_hash=token_hash,
                            invited_by=actor.user, expires_at=timezone.now() + timedelta(days=days))
    invitation.full_clean(exclude=["token_hash"])
    invitation.save()
    record_event(org=org, actor=actor, action="invitation.created", obj=invitation,
                 changes={"email": [None, email], "role": [None, role]})
    url = settings.BASE_URL + reverse("orgs:invitation_accept", args=[token])
    transaction.on_commit(lambda: _send_invitation(invitation, url))
    return invitation, token


def _send_invitation(invitation: Invitation, url: str):
    context = {"invitation": invitation, "org": invitation.org, "url": url}
    send_mail(
        subject=render_to_string("orgs/email/invitation_subject.txt", context).strip(),
        message=render_to_string("orgs/email/invitation_body.txt", context),
        from_email=None,
        recipient_list=[invitation.email],
    )


@transaction.atomic
def invitation_revoke(*, org: Organization, actor: Membership, invitation: Invitation):
    """Withdraw an open invitation; its link stops working. Audits invitation.revoked."""
    require_member(org, actor)
    _require(actor, "members:write")
    invitation = Invitation.objects.for_org(org).select_for_update().get(pk=invitation.pk)
    if invitation.status != Invitation.Status.PENDING:
        raise ValidationError({"invitation": f"This invitation is {invitation.status}; "
                                             "only pending invitations can be revoked."})
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    record_event(org=org, actor=actor, action="invitation.revoked", obj=invitation)
    return invitation


# What a dead invitation link says, on the accept page (GET) and when accepting (POST).
INVALID_LINK = "This invitation link is not valid."
INVITATION_PROBLEMS = {
    Invitation.Status.ACCEPTED: "This invitation has already been used.",
    Invitation.Status.REVOKED: "This invitation was withdrawn. Ask an admin for a new one.",
    Invitation.Status.EXPIRED: "This invitation has expired. Ask an admin for a new one.",
}


# An invitation stays "expired" (and can be resent) for this long; after that the
# sweep revokes it, which frees the one-open-invitation-per-address slot for good.
STALE_AFTER = timedelta(days=30)
BATCH_SIZE = 500


@transaction.atomic
def invitation_expire_stale(*, org: Organization, now=None,
                            batch_size: int = BATCH_SIZE) -> int:
    """Revoke org's open invitations that expired more than STALE_AFTER ago.

    Sets revoked_at and records an `invitation.expired` audit event (actor: the system)
    for each. Each row is claimed with a conditional UPDATE (still neither accepted nor
    revoked), so a concurrent run, an accept racing the sweep, or a redelivered task
    never revokes or audits the same invitation twice. Handles at most `batch_size`
    invitations per call; the next run takes the rest. Returns how many it revoked.
    """
    now = now or timezone.now()
    open_invitations = Invitation.objects.for_org(org).filter(
        accepted_at__isnull=True, revoked_at__isnull=True
    )
    candidates = list(
        open_invitations.filter(expires_at__lt=now - STALE_AFTER).order_by("pk")[:batch_size]
    )
    revoked = 0
    for invitation in candidates:
        claimed = open_invitations.filter(pk=invitation.pk).update(revoked_at=now)
        if not claimed:
            continue  # accepted or revoked since we read it
        invitation.revoked_at = now
        record_event(
            org=org, actor=None, action="invitation.expired", obj=invitation,
            changes={"revoked_at": [None, now], "expired_at": invitation.expires_at},
        )
        revoked += 1
    return revoked


def invitation_by_token(token: str) -> Invitation | None:
    """The invitation behind an accept link, or None. The token is looked up by hash."""
    return Invitation.objects.select_related("org").filter(
        token_hash=hash_secret(token or "")).first()


@transaction.atomic
def invitation_accept(*, token: str, user) -> Membership:
    """The invited person joins with the invited role. Works once, before expiry, and only
    for a user who owns the invited address (verified). Audits member.joined."""
    found = invitation_by_token(token)
    if found is None:
        raise ValidationError({"token": INVALID_LINK})
    invitation = Invitation.objects.for_org(found.org).select_for_update().get(pk=found.pk)
    if problem := INVITATION_PROBLEMS.get(invitation.status):
        raise ValidationError({"token": problem})
    if not user_owns_email(user, invitation.email):
        raise ValidationError({"token": f"This invitation is for {invitation.email}, but you are "
                                        f"signed in as {user.email}."})
    org = invitation.org
    if Membership.objects.for_org(org).filter(user=user).exists():
        raise ValidationError({"token": f"You are already a member of {org.name}."})
    try:
        with transaction.atomic():
            membership = Membership.objects.create(org=org, user=user, role=invitation.role)
    except IntegrityError:
        raise ValidationError({"token": f"You are already a member of {org.name}."}) from None
    invitation.accepted_at, invitation.accepted_by = timezone.now(), user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    record_event(org=org, actor=membership, action="member.joined", obj=membership,
                 changes={"role": [None, membership.role],
                          "invitation": [None, str(invitation.public_id)]})
    member_event_emit(org=org, kind="member.joined", membership=membership, via="invitation")
    return membership


def member_event_emit(*, org, kind: str, membership: Membership, **payload):
    """Tell subscribers of the "member" category (webhooks, owners and admins) that a member
    joined, left, was removed or changed role. Called by the membership services inside
    their transaction, after their audit event; the payload names the person and role."""
    event_emit(org=org, kind=kind, subject=membership,
               payload={"email": membership.user.email, "role": membership.role, **payload})


def user_owns_email(user, email: str) -> bool:
    from allauth.account.models import EmailAddress

    if user.email.lower() == email.lower():
        return True
    return EmailAddress.objects.filter(user=user, email__iexact=email, verified=True).exists()


def _lock_owners(org):
    # Lock every owner row so two concurrent demotions cannot both see "another owner left".
    return list(Membership.objects.for_org(org).select_for_update().filter(role=Role.OWNER))


@transaction.atomic
def membership_change_role(*, org: Organization, actor: Membership, membership: Membership,
                           role: str) -> Membership:
    """Change a member's role. Needs members:write, and the actor must rank at least as high
    as both the old and the new role. The last owner cannot be demoted. Audits
    member.role_changed."""
    require_member(org, actor)
    _require(actor, "members:write")
    if role not in Role.values:
        raise ValidationError({"role": f"'{role}' is not a role."})
    owners = _lock_owners(org)
    membership = Membership.objects.for_org(org).select_for_update().get(pk=membership.pk)
    if not can_change_role(actor, membership, role):
        raise ValidationError({"role": "You cannot grant a role above your own, or change the "
                                       "role of someone who outranks you."})
    if membership.role == Role.OWNER and role != Role.OWNER and len(owners) == 1:
        raise ValidationError({"role": "This is the last owner. Make someone else an owner first."})
    old = membership.role
    if old == role:
        return membership
    membership.role = role
    membership.save(update_fields=["role"])
    record_event(org=org, actor=actor, action="member.role_changed", obj=membership,
                 changes={"role": [old, role]})
    member_event_emit(org=org, kind="member.role_changed", membership=membership,
                      old_role=old)
    return membership


@transaction.atomic
def membership_remove(*, org: Organization, actor: Membership, membership: Membership):
    """Remove a member (or leave, when membership is the actor's own). The last owner can
    neither leave nor be removed; members who own callers must hand them over first.
    Drops the member's project roles in this org. Audits member.removed or member.left."""
    require_member(org, actor)
    owners = _lock_owners(org)
    membership = Membership.objects.for_org(org).select_for_update().get(pk=membership.pk)
    if not can_remove(actor, membership):
        raise PermissionDenied("You cannot remove someone who outranks you.")
    if membership.role == Role.OWNER and len(owners) == 1:
        raise ValidationError({"membership": "This is the last owner. Make someone else an "
                                             "owner before this one leaves."})
    owned = list(membership.owned_callers.values_list("name", flat=True)[:5])
    if owned:
        raise ValidationError({"membership": f"{membership.user.email} owns callers "
                                             f"({', '.join(owned)}). Give them a new owner first."})
    # Apps above orgs/ (projects: guardian roles) drop what they hold for this member,
    # inside this transaction.
    member_removing.send(sender=Membership, org=org, membership=membership)
    if org.billing_owner_id == membership.pk:
        Organization.objects.filter(pk=org.pk).update(billing_owner=None)
    action = "member.left" if actor.pk == membership.pk else "member.removed"
    record_event(org=org, actor=actor, action=action, obj=membership,
                 changes={"role": [membership.role, None]})
    member_event_emit(org=org, kind=action, membership=membership)  # before the row goes
    membership.delete()


TOKEN_MAX_DAYS = 365


def personal_token_max_days(*, user) -> int:
    """The longest token life every org of the user allows (a token acts in all of them)."""
    ages = SecurityPolicy.objects.filter(org__memberships__user=user).values_list(
        "max_personal_token_days", flat=True)
    return min([TOKEN_MAX_DAYS, *ages])


@transaction.atomic
def personal_token_create(*, user, name: str, days: int = 90, sso_org_slugs=()):
    """Mint a personal API token for user from their signed-in session; returns (token,
    secret). `sso_org_slugs`: the orgs whose SSO that session signed in through. Refused
    (PermissionDenied, nothing written) unless the session satisfies every org's MFA and
    SSO rules (orgs/token_policy.py). The secret is shown once and only its hash is kept.
    Audits token.created in each of the user's orgs, since the token acts in all of them."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the token a name that says what it is for."})
    limit = personal_token_max_days(user=user)
    if not 1 <= days <= limit:
        raise ValidationError({"days": f"A token lives 1 to {limit} days here (the strictest "
                                       "security policy of your organizations)."})
    memberships = list(Membership.objects.filter(user=user)
                       .select_related("org__security_policy", "user").order_by("org__name"))
    sso_org_ids = [m.org_id for m in memberships if m.org.slug in set(sso_org_slugs)]
    if refusal := token_policy.mint_refusal(memberships=memberships, sso_org_ids=sso_org_ids):
        raise PermissionDenied(refusal)
    secret, prefix, token_hash = PersonalToken.new_secret()
    token = PersonalToken.objects.create(
        user=user, name=name[:100], token_prefix=prefix, token_hash=token_hash,
        expires_at=timezone.now() + timedelta(days=days), sso_org_ids=sso_org_ids,
    )
    _record_for_user_orgs(user, "token.created", token,
                          {"name": [None, token.name], "expires_at": [None, token.expires_at]})
    return token, secret


@transaction.atomic
def personal_token_revoke(*, user, token: PersonalToken) -> PersonalToken:
    """Revoke one of user's own tokens; it stops working at once. Audits token.revoked."""
    token = PersonalToken.objects.select_for_update().get(pk=token.pk, user=user)
    if token.revoked_at:
        raise ValidationError({"token": "This token is already revoked."})
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    _record_for_user_orgs(user, "token.revoked", token, {})
    return token


def _record_for_user_orgs(user, action, obj, changes):
    for membership in Membership.objects.filter(user=user).select_related("org"):
        record_event(org=membership.org, actor=membership, action=action, obj=obj,
                     changes=changes)


@transaction.atomic
def membership_add(*, org: Organization, actor: Membership | None, user, role: str) -> Membership:
    """Add an existing user directly (demo data, and SSO just-in-time membership later).
    actor None means the system. Audits member.added."""
    require_member(org, actor, system_ok=True)
    if actor is not None and not can_manage(actor.role, role):
        raise ValidationError({"role": "You cannot grant a role above your own."})
    if Membership.objects.for_org(org).filter(user=user).exists():
        raise ValidationError({"user": f"{user.email} is already a member."})
    membership = Membership.objects.create(org=org, user=user, role=role)
    record_event(org=org, actor=actor, action="member.added", obj=membership,
                 changes={"role": [None, role]})
    member_event_emit(org=org, kind="member.joined", membership=membership, via="added")
    return membership


def security_policy_get(*, org) -> SecurityPolicy:
    """The org's policy row (created with the org; older orgs get defaults on first read)."""
    policy, _ = SecurityPolicy.objects.for_org(org).get_or_create(org=org)
    return policy


@transaction.atomic
def security_policy_update(*, org: Organization, actor: Membership, **fields) -> SecurityPolicy:
    """Admins and owners change the security policy. Audits policy.updated with before and
    after, and emits a security.policy_changed notification event."""
    require_member(org, actor)
    _require(actor, "org:write")
    policy = SecurityPolicy.objects.for_org(org).select_for_update().get(
        pk=security_policy_get(org=org).pk)
    before = {f: getattr(policy, f) for f in POLICY_FIELDS}
    for key, value in fields.items():
        if key not in POLICY_FIELDS:
            raise ValidationError({key: "This field is not part of the security policy."})
        setattr(policy, key, value)
    if "invitation_domains" in fields:
        policy.invitation_domains = ", ".join(policy.invitation_domain_list())
    policy.updated_at = timezone.now()
    policy.full_clean()
    policy.save()
    changes = diff(before, {f: getattr(policy, f) for f in POLICY_FIELDS})
    if changes:
        record_event(org=org, actor=actor, action="policy.updated", obj=policy,
                     object_repr="Security policy", changes=changes)
        event_emit(org=org, kind="security.policy_changed", subject=policy,
                   payload={"changed": sorted(changes), "by": actor.user.email})
    return policy
