"""Signal receivers: sign-ins, sign-outs, failed sign-ins and MFA changes go to the audit log
of each org of the person, each in its own transaction; an SSO identity linked through
allauth's connect flow gets its membership. Connected in OrgsConfig.ready()."""

from allauth.account.signals import user_logged_in as allauth_logged_in
from allauth.mfa.signals import authenticator_added, authenticator_removed, authenticator_reset
from allauth.socialaccount.signals import social_account_added
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction

from orgs.audit import record_event
from orgs.models import Membership, User
from orgs.session_policy import KEY, policy_start


def _audit_user(user, action, changes=None):
    if user is None or not getattr(user, "pk", None):
        return
    with transaction.atomic():
        for membership in Membership.objects.filter(user=user).select_related("org"):
            record_event(org=membership.org, actor=user, action=action, object_type="user",
                         object_id=str(user.pk), object_repr=user.email,
                         changes=changes or {})


def on_login(sender, request, user, **kwargs):
    # Django's signal: every sign-in, force_login included. Session only, no audit here.
    if request is not None and hasattr(request, "session"):
        policy_start(request, user)


def on_allauth_login(sender, request, user, **kwargs):
    sociallogin = kwargs.get("sociallogin")
    method = f"sso:{sociallogin.provider.sub_id}" if sociallogin else "password"
    _audit_user(user, "login.succeeded", {"method": method})


def on_logout(sender, request, user, **kwargs):
    _audit_user(user, "logout")


def on_login_failed(sender, credentials, request=None, **kwargs):
    email = credentials.get("email") or credentials.get("username") or ""
    user = User.objects.filter(email__iexact=email).first() if email else None
    _audit_user(user, "login.failed", {"email": email})


def on_mfa_added(sender, request, user, authenticator, **kwargs):
    _audit_user(user, "mfa.activated", {"type": authenticator.type})
    if request is not None and KEY in request.session:
        request.session[KEY] = {**request.session[KEY], "at": 0}  # re-read the policy now


def on_mfa_removed(sender, request, user, authenticator, **kwargs):
    _audit_user(user, "mfa.deactivated", {"type": authenticator.type})
    if request is not None and KEY in request.session:
        request.session[KEY] = {**request.session[KEY], "at": 0}


def on_mfa_reset(sender, request, user, authenticator, **kwargs):
    _audit_user(user, "mfa.recovery_codes_reset", {"type": authenticator.type})


def on_social_account_added(sender, request, sociallogin, **kwargs):
    # Only the connect flow (a signed-in person who confirmed their password links an
    # IdP identity): email authentication during an SSO sign-in also adds an account,
    # and pre_login syncs the membership for that one.
    from allauth.socialaccount.providers.base import AuthProcess

    from orgs.sso import login as sso_login
    from orgs.sso.services import sso_membership_sync

    if sociallogin.state.get("process") != AuthProcess.CONNECT:
        return
    connection = sso_login.connection_of(sociallogin)
    if connection is not None:
        sso_membership_sync(connection=connection, user=sociallogin.user, linked=True,
                            groups=sso_login.groups_of(sociallogin, connection))


def connect():
    user_logged_in.connect(on_login, dispatch_uid="orgs.session_policy")
    allauth_logged_in.connect(on_allauth_login, dispatch_uid="orgs.audit_login")
    user_logged_out.connect(on_logout, dispatch_uid="orgs.audit_logout")
    user_login_failed.connect(on_login_failed, dispatch_uid="orgs.audit_login_failed")
    authenticator_added.connect(on_mfa_added, dispatch_uid="orgs.audit_mfa_added")
    authenticator_removed.connect(on_mfa_removed, dispatch_uid="orgs.audit_mfa_removed")
    authenticator_reset.connect(on_mfa_reset, dispatch_uid="orgs.audit_mfa_reset")
    social_account_added.connect(on_social_account_added, dispatch_uid="orgs.sso_link")
