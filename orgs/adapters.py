"""allauth adapters: where sign-in meets the org rules.

AccountAdapter: invitation redirects, the SSO-required refusal of password sign-in (with
the owners' break-glass), and just-in-time membership after an SSO sign-in.
SocialAccountAdapter: SocialApps built from the orgs' SSO connections on every lookup
(no restart, no SocialApp rows), and the SSO sign-in rules of orgs.sso.services.
"""

import logging

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.stagekit import clear_login
from allauth.account.utils import filter_users_by_email
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.providers.base import AuthProcess
from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse

from orgs import outbound
from orgs.sso import login as sso_login
from orgs.sso.services import SSORefused, sso_login_check, sso_membership_sync

log = logging.getLogger(__name__)


class AccountAdapter(DefaultAccountAdapter):
    """Sends people who signed up through an invitation link back to it."""

    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "too_many_login_attempts": "Too many failed sign-in attempts for this account or from "
        "your network. Wait a few minutes and try again, or reset your password.",
    }

    def get_login_redirect_url(self, request):
        pending = request.session.pop("pending_invitation", None)
        if pending:
            return reverse("orgs:invitation_accept", args=[pending])
        return super().get_login_redirect_url(request)

    def get_signup_redirect_url(self, request):
        return self.get_login_redirect_url(request)

    def pre_login(self, request, user, **kwargs):
        response = super().pre_login(request, user, **kwargs)
        if response is not None:
            return response
        sociallogin = (kwargs.get("signal_kwargs") or {}).get("sociallogin")
        if sociallogin is not None:
            connection = sso_login.connection_of(sociallogin)
            if connection is not None:
                sso_membership_sync(connection=connection, user=user,
                                    groups=sso_login.groups_of(sociallogin, connection),
                                    linked=getattr(request, "_sso_new_link", False))
                # Read by the session policy: this session may open the org's pages even
                # when the org requires SSO.
                request.session["sso_org_slugs"] = [connection.org.slug]
            return None
        refusal = sso_login.password_login_refusal(user)
        if refusal:
            clear_login(request)
            messages.error(request, refusal)
            return redirect(reverse("orgs:sso_start") + f"?email={user.email}")
        return None


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def get_requests_session(self):
        # Every HTTP call allauth makes to an IdP (OIDC discovery, the token exchange,
        # userinfo, the JWKS behind id_token checks) goes through the outbound policy:
        # public addresses only, pinned, every redirect hop checked, time and size capped.
        return outbound.session(timeout=settings.SOCIALACCOUNT_REQUESTS_TIMEOUT)

    def list_apps(self, request, provider=None, client_id=None):
        # Only targeted lookups: an unfiltered listing would show every customer's IdP on
        # the sign-in page. People reach their IdP through "Continue with SSO".
        if provider is None and client_id is None:
            return []
        return sso_login.social_apps(provider=provider, client_id=client_id)

    def pre_social_login(self, request, sociallogin):
        connection = sso_login.connection_of(sociallogin)
        if connection is None:
            return
        email, verified = sso_login.email_of(sociallogin)
        connecting = sociallogin.state.get("process") == AuthProcess.CONNECT
        linked_by_email = bool(getattr(sociallogin, "_did_authenticate_by_email", None))
        existing = None
        if not sociallogin.is_existing:
            existing = (filter_users_by_email(email) or [None])[0] if email else None
        elif linked_by_email:
            existing = sociallogin.user
        try:
            sso_login_check(connection=connection, email=email, email_verified=verified,
                            existing_user=None if connecting else existing,
                            connecting_user=request.user if connecting else None)
        except SSORefused as exc:
            offer_link = exc.reason == "existing_account_not_member"
            raise ImmediateHttpResponse(_error_page(request, connection, str(exc),
                                                    offer_link=offer_link)) from None
        request._sso_new_link = not sociallogin.is_existing or linked_by_email

    def on_authentication_error(self, request, provider, error=None, exception=None,
                                extra_context=None):
        connection = sso_login.connection_of_provider(provider)
        if connection is None:
            return
        message, reason = sso_login.explain_error(connection, error, exception,
                                                  extra_context or {})
        log.warning("SSO sign-in failed for %s: %s", connection.provider_id, reason)
        sso_login.record_failure(connection, reason)
        raise ImmediateHttpResponse(_error_page(request, connection, message))


def _error_page(request, connection, message, offer_link=False):
    # offer_link: the address has an account; its owner may link it after a password
    # sign-in (orgs:sso_link), never the IdP on its own.
    return render(request, "orgs/sso_error.html",
                  {"message": message, "connection": connection, "org": connection.org,
                   "offer_link": offer_link}, status=400)
