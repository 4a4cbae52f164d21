"""Pages outside any one org: home, creating an org, personal API tokens and the
invitation link that brings someone into an org."""

from allauth.account.adapter import get_adapter
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from orgs import selectors, services
from orgs.forms import OrgCreateForm, PersonalTokenForm, add_service_error


def home(request):
    """Signed out: log in. One org: its dashboard. None: create one. Several: choose."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    memberships = list(selectors.org_member_counts(user=request.user))
    if not memberships:
        return redirect("orgs:org_create")
    if len(memberships) == 1 and "choose" not in request.GET:
        return redirect("orgs:dashboard", memberships[0].org.slug)
    return render(request, "orgs/org_list.html", {"memberships": memberships})


@login_required
def org_create(request):
    form = OrgCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            org = services.org_create(user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"{org.name} is ready. You are its owner.")
            return redirect("orgs:dashboard", org.slug)
    return render(request, "orgs/org_create.html", {"form": form},
                  status=400 if form.errors else 200)


def _token_page(request, form, *, secret=None, page_error="", status=200):
    context = {"form": form, "secret": secret, "page_error": page_error,
               "tokens": selectors.personal_token_list(user=request.user)}
    return render(request, "orgs/token_list.html", context, status=status)


@never_cache  # the response right after creation carries the secret
@login_required
def token_list(request):
    """List own tokens; POST creates one and shows its secret in this response only (no
    redirect, so the secret never sits in a session or a message cookie)."""
    form = PersonalTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            token, secret = services.personal_token_create(
                user=request.user, **form.cleaned_data,
                sso_org_slugs=request.session.get("sso_org_slugs", []))
        except PermissionDenied as exc:  # an org's MFA or SSO rule: say which
            return _token_page(request, form, page_error=str(exc), status=403)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"Token “{token.name}” created.")
            return _token_page(request, PersonalTokenForm(), secret=secret, status=201)
    return _token_page(request, form, status=400 if form.errors else 200)


@require_POST
@login_required
def token_revoke(request, public_id):
    token = get_object_or_404(selectors.personal_token_list(user=request.user),
                              public_id=public_id)
    try:
        services.personal_token_revoke(user=request.user, token=token)
    except ValidationError as exc:
        return _token_page(request, PersonalTokenForm(), page_error=" ".join(exc.messages),
                           status=400)
    messages.success(request, f"Token “{token.name}” revoked. It no longer works.")
    return redirect("orgs:token_list")


def _invitation_page(request, invitation, problem="", status=200, **extra):
    context = {"invitation": invitation, "problem": problem, **extra}
    return render(request, "orgs/invitation_accept.html", context, status=status)


def invitation_accept(request, token):
    """GET explains the invitation; POST (signed in as the invited address) accepts it.

    A signed-out visitor gets the token remembered in the session (the account adapter
    brings them back here after login or signup) and the address stashed as verified,
    since following the mailed link proves they read that mailbox.
    """
    invitation = services.invitation_by_token(token)
    if invitation is None:
        return _invitation_page(request, None, services.INVALID_LINK, status=404)
    if request.method == "POST":
        return _accept(request, invitation, token)
    if problem := services.INVITATION_PROBLEMS.get(invitation.status):
        return _invitation_page(request, invitation, problem, status=400)
    if not request.user.is_authenticated:
        request.session["pending_invitation"] = token
        get_adapter(request).stash_verified_email(request, invitation.email)
        return _invitation_page(request, invitation)
    owns = services.user_owns_email(request.user, invitation.email)
    return _invitation_page(request, invitation, owns_email=owns)


def _accept(request, invitation, token):
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    try:
        membership = services.invitation_accept(token=token, user=request.user)
    except ValidationError as exc:
        return _invitation_page(request, invitation, " ".join(exc.messages), status=400)
    request.session.pop("pending_invitation", None)
    messages.success(request, f"Welcome to {membership.org.name}. You joined as "
                              f"{membership.get_role_display()}.")
    return redirect("orgs:dashboard", membership.org.slug)
