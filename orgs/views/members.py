"""Members and invitations of one org: the list page and its POST-only actions."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from orgs import selectors, services
from orgs.decorators import org_view
from orgs.forms import InvitationForm, MemberRoleForm, add_service_error
from orgs.models import Invitation
from orgs.permissions import can_change_role, can_manage_members, can_remove
from orgs.roles import Role, grantable_roles
from orgs.scoping import get_for_org_or_404
from orgs.views import done, wants_partial
from orgs.views.confirm import confirm_page, confirmed


def _row(actor, member, error=""):
    """One member row with the booleans the template needs (predicates, not role names)."""
    return {
        "member": member,
        "is_self": member.pk == actor.pk,
        "can_change": can_change_role(actor, member, member.role),
        "can_remove": can_remove(actor, member),
        "error": error,
    }


def _role_choices(actor):
    return [(r.value, r.label) for r in grantable_roles(actor.role)]


def member_page_context(request, *, invite_form=None, row_errors=None, page_error=""):
    """Everything the members page shows (2 queries: members, open invitations)."""
    actor, errors = request.membership, row_errors or {}
    return {
        "rows": [_row(actor, m, errors.get(m.pk, "")) for m in
                 selectors.membership_list(org=request.org)],
        "invitations": selectors.invitation_list(org=request.org, open_only=True),
        "can_manage": can_manage_members(actor),
        "role_choices": _role_choices(actor),
        "invite_form": invite_form or InvitationForm(actor=actor),
        "page_error": page_error,
    }


def _members_url(request):
    return reverse("orgs:member_list", args=[request.org.slug])


@org_view(scope="members:read")
def member_list(request):
    return render(request, "orgs/member_list.html", member_page_context(request))


@require_POST
@org_view(scope="members:write")
def invitation_create(request):
    form = InvitationForm(request.POST, actor=request.membership)
    if form.is_valid():
        try:
            invitation, _ = services.invitation_create(
                org=request.org, actor=request.membership, **form.cleaned_data)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return done(request, _members_url(request), f"Invitation sent to {invitation.email} "
                        f"as {invitation.get_role_display()}.")
    return render(request, "orgs/member_list.html",
                  member_page_context(request, invite_form=form), status=400)


@require_POST
@org_view(scope="members:write")
def invitation_revoke(request, public_id):
    invitation = get_for_org_or_404(Invitation, request.org, public_id=public_id)
    try:
        services.invitation_revoke(org=request.org, actor=request.membership,
                                   invitation=invitation)
    except ValidationError as exc:
        context = member_page_context(request, page_error=" ".join(exc.messages))
        return render(request, "orgs/member_list.html", context, status=400)
    return done(request, _members_url(request), f"Invitation to {invitation.email} revoked.")


@require_POST
@org_view(scope="members:write")
def member_role(request, public_id):
    """Change one member's role. htmx posts here from the row's select; on failure it gets
    the row back with the reason (422), a plain post gets the whole page (400)."""
    member = selectors.membership_get(org=request.org, public_id=public_id)
    form = MemberRoleForm(request.POST)
    if form.is_valid() and not confirmed(request):
        # htmx sends confirm=yes once its dialog was accepted (hx-vals); a plain post gets
        # the confirmation page. A change the actor may not make goes on to the service,
        # which refuses it with its reason.
        if wants_partial(request):
            form.add_error("role", "Confirm the role change.")
        elif can_change_role(request.membership, member, form.cleaned_data["role"]):
            return _role_confirm(request, member, form.cleaned_data["role"])
    if form.is_valid():
        try:
            member = services.membership_change_role(
                org=request.org, actor=request.membership, membership=member,
                role=form.cleaned_data["role"])
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return done(request, _members_url(request),
                        f"{member.user.email} is now {member.get_role_display()}.")
    error = " ".join(e for errors in form.errors.values() for e in errors)
    if wants_partial(request):
        # 422, not 400: htmx swaps it (see base.html), and django-htmx's DEBUG helper,
        # which replaces the whole page with any 400 answer, leaves it alone.
        context = {"row": _row(request.membership, member, error),
                   "role_choices": _role_choices(request.membership)}
        return render(request, "orgs/member_list.html#member_row", context, status=422)
    context = member_page_context(request, row_errors={member.pk: error})
    return render(request, "orgs/member_list.html", context, status=400)


def _role_confirm(request, member, role):
    label = Role(role).label
    return confirm_page(
        request, title=f"Change {member.user.email} to {label}?",
        lines=[f"{member.user.email} is {member.get_role_display()} now and becomes {label}: "
               "what they may see and do in this organization changes at once."],
        action=request.path, fields={"role": role}, button=f"Make them {label}",
        cancel=_members_url(request))


@require_POST
@org_view(scope="org:read")
def member_remove(request, public_id):
    """Remove a member, or leave (anyone may leave; the service checks rank and the last
    owner and raises PermissionDenied, a 403, for someone who outranks the actor)."""
    member = selectors.membership_get(org=request.org, public_id=public_id)
    leaving = member.pk == request.membership.pk
    try:
        services.membership_remove(org=request.org, actor=request.membership, membership=member)
    except ValidationError as exc:
        context = member_page_context(request, page_error=" ".join(exc.messages))
        return render(request, "orgs/member_list.html", context, status=400)
    if leaving:
        messages.success(request, f"You left {request.org.name}.")
        return redirect("orgs:home")
    return done(request, _members_url(request),
                f"{member.user.email} was removed from {request.org.name}.")
