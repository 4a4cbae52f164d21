"""HTML views for team API keys and workload identities.

Anyone in the org reads the key list (projects:read); what they may change is decided by
projects.permissions (can_manage_keys, can_revoke_key, can_admin_project), enforced by the
services and mirrored by the booleans handed to templates. A new secret is rendered once,
in the response to the POST that created it, with Cache-Control: no-store.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import render
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from orgs.decorators import org_view
from orgs.forms import add_service_error
from orgs.views import done
from orgs.views.confirm import confirm_page, confirmed
from projects import keys, selectors, workload
from projects.key_forms import (
    KeyCreateForm,
    KeyFilterForm,
    KeyLeakForm,
    KeyRevokeForm,
    KeyRotateForm,
    WorkloadIdentityForm,
)
from projects.permissions import (
    can_admin_project,
    can_hold_keys,
    can_manage_keys,
    can_revoke_key,
)

PAGE_SIZE = 50


def _key_url(request, key):
    return reverse("projects:key_detail", args=[request.org.slug, key.public_id])


def _secret_page(request, key, secret, *, rotated_from=None):
    # The one page that ever shows the secret: rendered from the POST, never stored.
    context = {"key": key, "secret": secret, "rotated_from": rotated_from}
    response = render(request, "projects/key_secret.html", context, status=201)
    response["Cache-Control"] = "no-store"
    return response


@org_view(scope="projects:read")
def key_list(request):
    """Org's keys with filters (project, environment, caller, status), 50 per page."""
    filters = KeyFilterForm(request.GET or None, org=request.org)
    page = Paginator(selectors.key_list(org=request.org, **filters.filters()),
                     PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)  # page links keep the filters
    context = {"filters": filters, "page": page, "query": query.urlencode(),
               "can_create": can_hold_keys(request.membership)}
    return render(request, "projects/key_list.html", context)


@never_cache
@org_view(scope="projects:read")
def key_create(request):
    if not can_hold_keys(request.membership):
        raise PermissionDenied("Your role never creates or holds API keys.")
    project = _chosen_project(request)
    form = KeyCreateForm(request.POST or None, org=request.org, project=project,
                         initial={"project": project.public_id if project else None})
    if request.method == "POST" and form.is_valid():
        try:
            key, secret = keys.key_create(org=request.org, actor=request.membership,
                                          **form.cleaned_data)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return _secret_page(request, key, secret)
    return render(request, "projects/key_form.html", {"form": form},
                  status=400 if form.errors else 200)


def _chosen_project(request):
    # The form's environment and caller choices narrow to this project.
    value = request.POST.get("project") or request.GET.get("project")
    try:
        return selectors.project_list(org=request.org).filter(public_id=value).first() \
            if value else None
    except ValidationError:  # not a UUID
        return None


def _detail_context(request, key, **forms):
    member = request.membership
    can_manage = can_manage_keys(member, key.environment) and key.status == "active"
    return {"key": key, "history": selectors.key_history(org=request.org, key=key),
            "can_rotate": can_manage, "can_revoke": can_revoke_key(member, key)
            and not key.revoked_at,
            "rotate_form": forms.get("rotate_form") or KeyRotateForm(),
            "revoke_form": forms.get("revoke_form") or KeyRevokeForm()}


@org_view(scope="projects:read")
def key_detail(request, public_id):
    key = selectors.key_get(org=request.org, public_id=public_id)
    return render(request, "projects/key_detail.html", _detail_context(request, key))


@never_cache
@require_POST
@org_view(scope="projects:read")
def key_rotate(request, public_id):
    key = selectors.key_get(org=request.org, public_id=public_id)
    form = KeyRotateForm(request.POST)
    if form.is_valid() and not confirmed(request):
        # The service's own checks, before asking: nobody confirms what they cannot do.
        if not can_manage_keys(request.membership, key.environment):
            raise PermissionDenied("You cannot rotate keys of this environment.")
        if key.status == "active":
            return _rotate_confirm(request, key, form.cleaned_data["overlap_seconds"])
        form.add_error(None, f"This key is {key.status}; only an active key can be rotated.")
    if form.is_valid():
        try:
            successor, secret = keys.key_rotate(org=request.org, actor=request.membership,
                                                key=key, **form.cleaned_data)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            # The locked predecessor as the service left it: its expires_at is now the
            # overlap end (the view's `key` still holds the expiry from before).
            return _secret_page(request, successor, secret, rotated_from=successor.rotated_from)
    return render(request, "projects/key_detail.html",
                  _detail_context(request, key, rotate_form=form), status=400)


def _rotate_confirm(request, key, overlap_seconds):
    # States the old secret's real end (overlap end, capped by its expiry), the date
    # key_rotate will write, not the successor's expiry.
    end = keys.overlap_end(key, overlap_seconds)
    old = ("The old secret stops now." if overlap_seconds == 0 else
           f"The old secret ({key.prefix}…) keeps working until "
           f"{date_format(localtime(end), 'j M Y H:i T')} "
           f"({keys.OVERLAPS[overlap_seconds]} from now), then stops.")
    return confirm_page(
        request, title=f"Rotate key {key.name} ({key.prefix}…)?",
        lines=["A successor with a new secret is issued now; the secret is shown once.", old,
               "Approval rows bound to this key cover its successor at once."],
        action=request.path, fields={"overlap_seconds": overlap_seconds},
        button="Rotate key", cancel=_key_url(request, key))


def _revoke_confirm(request, key, reason):
    return confirm_page(
        request, title=f"Revoke key {key.name} ({key.prefix}…)?",
        lines=["It stops working on the next request, everywhere, and cannot be restored. "
               "Approval rows bound to it no longer admit this secret; a successor it was "
               "rotated to keeps working.", f"Reason kept in the audit log: {reason}"],
        action=request.path, fields={"reason": reason}, button="Revoke key",
        cancel=_key_url(request, key), danger=True)


@require_POST
@org_view(scope="projects:read")
def key_revoke(request, public_id):
    key = selectors.key_get(org=request.org, public_id=public_id)
    form = KeyRevokeForm(request.POST)
    if form.is_valid() and not confirmed(request):
        if not can_revoke_key(request.membership, key):
            raise PermissionDenied("You cannot revoke keys of this environment.")
        if not key.revoked_at:
            return _revoke_confirm(request, key, form.cleaned_data["reason"])
        form.add_error(None, "This key is already revoked.")
    if form.is_valid():
        try:
            keys.key_revoke(org=request.org, actor=request.membership, key=key,
                            **form.cleaned_data)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return done(request, _key_url(request, key), f"Key {key.name} revoked. It no "
                        "longer works anywhere.")
    return render(request, "projects/key_detail.html",
                  _detail_context(request, key, revoke_form=form), status=400)


@never_cache
@org_view(scope="projects:read")
def key_report_leaked(request):
    """Any member reports a leaked secret: the key is revoked and security notified."""
    form = KeyLeakForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            key = keys.key_report_leaked(actor=request.membership, **form.cleaned_data)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            if key is None:
                return done(request, reverse("projects:key_list", args=[request.org.slug]),
                            "Thank you. That key is revoked and its owners are notified.")
            return done(request, _key_url(request, key), f"Key {key.name} is revoked and "
                        "security is notified. Issue a new key to whoever used it.")
    return render(request, "projects/key_leaked.html", {"form": form},
                  status=400 if form.errors else 200)


@org_view(scope="projects:read")
def identity_list(request, public_id):
    """A project's workload identities; project admins add one with the form (POST)."""
    project = selectors.project_get(org=request.org, public_id=public_id)
    can_admin = can_admin_project(request.membership, project)
    if request.method == "POST" and not can_admin:
        raise PermissionDenied("Only project admins can add workload identities.")
    form = WorkloadIdentityForm(request.POST or None, org=request.org, project=project)
    if request.method == "POST" and form.is_valid():
        try:
            identity = workload.identity_create(org=request.org, actor=request.membership,
                                                project=project, **form.cleaned_data)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return done(request, request.path, f"Workload identity {identity.name} added.")
    context = {"project": project, "form": form, "can_admin": can_admin,
               "identities": selectors.identity_list(org=request.org, project=project)}
    return render(request, "projects/identity_list.html", context,
                  status=400 if form.errors else 200)


@require_POST
@org_view(scope="projects:read")
def identity_delete(request, public_id, identity_id):
    project = selectors.project_get(org=request.org, public_id=public_id)
    identity = selectors.identity_get(org=request.org, project=project, public_id=identity_id)
    workload.identity_delete(org=request.org, actor=request.membership, identity=identity)
    return done(request, reverse("projects:identity_list", args=[request.org.slug,
                                                                  project.public_id]),
                f"Workload identity {identity.name} deleted; its tokens stop working now.")
