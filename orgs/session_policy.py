"""Enforce the security policy on every request of a signed-in person.

The strictest policy across the person's orgs applies: the shortest session lifetime,
the shortest non-zero idle timeout, and MFA if any org requires it. It is read at sign-in
and re-read at most once a minute, so an ordinary request costs no query and no session
write (the pinned query counts of the pages stay as they are). The last-seen time is
written at most once a minute too, or sooner with a very short idle timeout.
"""

import time

from django.contrib import messages
from django.contrib.auth import logout
from django.db.models import Min
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from orgs.policy import SecurityPolicy

KEY = "security_policy"
REFRESH_SECONDS = 60
# What counts as "two-factor set up": an authenticator app or a security key.
MFA_TYPES = ("totp", "webauthn")
# MFA setup, signing out and static files stay reachable while MFA setup is pending.
MFA_OPEN_PREFIXES = ("/accounts/2fa/", "/accounts/logout/", "/accounts/reauthenticate/",
                     "/static/", "/healthz")


def strictest_policy(user) -> dict:
    """{lifetime, idle (seconds, 0 = off), mfa} over the user's orgs (one query, plus one
    for the user's authenticators when some org requires MFA)."""
    from allauth.mfa.models import Authenticator

    rows = SecurityPolicy.objects.filter(org__memberships__user=user)
    agg = rows.aggregate(lifetime=Min("session_lifetime_minutes"))
    idle = rows.filter(idle_timeout_minutes__gt=0).aggregate(m=Min("idle_timeout_minutes"))["m"]
    has_mfa = Authenticator.objects.filter(user=user, type__in=MFA_TYPES).exists()
    mfa = rows.filter(mfa_required=True).exists() and not has_mfa
    return {"lifetime": (agg["lifetime"] or 0) * 60, "idle": (idle or 0) * 60, "mfa": mfa,
            "sso_org": sso_required_org(user, has_mfa)}


def sso_required_org(user, has_mfa: bool) -> str | None:
    """The slug of the org whose SSO this person must use for its pages, or None: the org
    that verified their email domain, if it requires SSO and they are a member there
    (owners with MFA keep their break-glass password session)."""
    from orgs.models import Membership
    from orgs.roles import Role
    from orgs.sso.models import VerifiedDomain

    domain = user.email.rsplit("@", 1)[-1].lower()
    membership = Membership.objects.filter(
        user=user, org__verified_domains__domain=domain,
        org__verified_domains__verified_at__isnull=False,
        org__verified_domains__method__in=VerifiedDomain.TRUSTED,
        org__security_policy__sso_required=True).select_related("org").first()
    if membership is None or (membership.role == Role.OWNER and has_mfa):
        return None
    return membership.org.slug


def policy_start(request, user):
    """At sign-in: stamp the session and cache the policy in it."""
    now = int(time.time())
    request.session[KEY] = {**strictest_policy(user), "at": now, "auth_at": now,
                            "seen": now}


class SessionPolicyMiddleware:
    """Lifetime and idle timeout sign the person out; pending MFA setup comes first."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not hasattr(request, "session"):
            return self.get_response(request)
        state = request.session.get(KEY)
        now = int(time.time())
        if state is None or now - state.get("at", 0) >= REFRESH_SECONDS:
            state = {**(state or {"auth_at": now, "seen": now}), **strictest_policy(user),
                     "at": now}
            request.session[KEY] = state
        if state["lifetime"] and now - state["auth_at"] > state["lifetime"]:
            return self._sign_out(request, "Your session reached the maximum length your "
                                           "organization allows. Sign in again.")
        if state["idle"] and now - state["seen"] > state["idle"]:
            minutes = max(1, state["idle"] // 60)
            return self._sign_out(request, f"You were signed out after {minutes} minute"
                                           f"{'s' if minutes != 1 else ''} without activity.")
        if state["idle"] and now - state["seen"] >= min(REFRESH_SECONDS, state["idle"] // 2):
            state["seen"] = now
            request.session[KEY] = state
        slug = state.get("sso_org")
        if (slug and request.path.startswith((f"/o/{slug}/", f"/api/v1/o/{slug}/"))
                and not self._signed_in_with_sso(request, slug)):
            # A password session (from before SSO became required) cannot open this org.
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": "This organization requires single sign-on: "
                                     "sign in with SSO, or use a personal API token."},
                                    status=403)
            messages.info(request, "This organization requires single sign-on.")
            return redirect("orgs:sso_org", slug=slug)
        if state["mfa"] and not request.path.startswith(MFA_OPEN_PREFIXES):
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": "Your organization requires two-factor "
                                     "authentication. Set it up in the browser first."},
                                    status=403)
            messages.warning(request, "Your organization requires two-factor authentication. "
                                      "Set up an authenticator app to continue.")
            return redirect("mfa_activate_totp")
        return self.get_response(request)

    @staticmethod
    def _signed_in_with_sso(request, slug) -> bool:
        return slug in request.session.get("sso_org_slugs", [])

    def _sign_out(self, request, message):
        path = request.get_full_path()
        logout(request)
        messages.info(request, message)
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": message}, status=401)
        return redirect(reverse("account_login") + "?" + urlencode({"next": path}))
