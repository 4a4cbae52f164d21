"""HTML views for projects, environments, callers and project roles.

Reading needs projects:read (every org role); changing a project needs
projects.permissions.can_admin_project (org admins and owners, or the project's admins),
checked before any form is read, so a refused change is a 403 and changes nothing.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from orgs import selectors as org_selectors
from orgs.decorators import org_view
from orgs.forms import add_service_error
from orgs.views import done
from projects import selectors, services
from projects.forms import (
    CallerForm,
    EnvironmentForm,
    ProjectCreateForm,
    ProjectForm,
    ProjectRoleForm,
)
from projects.permissions import can_admin_project, can_create_project
from projects.roles import ProjectRole


def _project(request, public_id, *, admin=False):
    project = selectors.project_get(org=request.org, public_id=public_id)
    if admin and not can_admin_project(request.membership, project):
        raise PermissionDenied("Only project admins and org admins can change this project.")
    return project


def _detail_url(request, project):
    return reverse("projects:project_detail", args=[request.org.slug, project.public_id])


def detail_context(request, project, **forms):
    """What the project page shows: environments, callers, members holding a project role,
    and for project admins the three forms (5 queries, 8 with the forms' member lists)."""
    org = request.org
    can_admin = can_admin_project(request.membership, project)
    roles = selectors.project_role_map(org=org, project=project)
    context = {
        "project": project,
        "can_admin": can_admin,
        "environments": selectors.environment_list(org=org, project=project),
        "callers": selectors.caller_list(org=org, project=project),
        "project_members": [(m, ProjectRole(roles[m.user_id]).label) for m in
                            org_selectors.membership_list(org=org) if m.user_id in roles],
    }
    if can_admin:
        context["environment_form"] = forms.get("environment_form") or EnvironmentForm()
        context["caller_form"] = forms.get("caller_form") or CallerForm(org=org)
        context["role_form"] = forms.get("role_form") or ProjectRoleForm(org=org)
    return context


@org_view(scope="projects:read")
def project_list(request):
    context = {"projects": selectors.project_list(org=request.org),
               "can_create": can_create_project(request.membership)}
    return render(request, "projects/project_list.html", context)


@org_view(scope="projects:create")
def project_create(request):
    form = ProjectCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = services.project_create(org=request.org, actor=request.membership,
                                              **form.cleaned_data)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return done(request, _detail_url(request, project),
                        f"Project {project.name} created with development, staging and "
                        "production environments.")
    return render(request, "projects/project_form.html", {"form": form, "creating": True},
                  status=400 if form.errors else 200)


@org_view(scope="projects:read")
def project_detail(request, public_id):
    project = _project(request, public_id)
    return render(request, "projects/project_detail.html", detail_context(request, project))


@org_view(scope="projects:read")
def project_edit(request, public_id):
    project = _project(request, public_id, admin=True)
    initial = {"name": project.name, "description": project.description}
    form = ProjectForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            project = services.project_update(org=request.org, actor=request.membership,
                                              project=project, **form.cleaned_data)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return done(request, _detail_url(request, project), "Project saved.")
    return render(request, "projects/project_form.html", {"form": form, "project": project},
                  status=400 if form.errors else 200)


@require_POST
@org_view(scope="projects:read")
def environment_create(request, public_id):
    project = _project(request, public_id, admin=True)
    form = EnvironmentForm(request.POST)
    if form.is_valid():
        try:
            env = services.environment_create(org=request.org, actor=request.membership,
                                              project=project, **form.cleaned_data)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return done(request, _detail_url(request, project), f"Environment {env.name} added.")
    context = detail_context(request, project, environment_form=form)
    return render(request, "projects/project_detail.html", context, status=400)


@org_view(scope="projects:read")
def caller_create(request, public_id):
    project = _project(request, public_id, admin=True)
    form = CallerForm(request.POST or None, org=request.org)
    if request.method == "POST" and form.is_valid():
        try:
            caller = services.caller_create(org=request.org, actor=request.membership,
                                            project=project, **form.cleaned_data)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return done(request, _detail_url(request, project), f"Caller {caller.name} added.")
    return render(request, "projects/caller_form.html", {"form": form, "project": project},
                  status=400 if form.errors else 200)


@org_view(scope="projects:read")
def caller_edit(request, public_id, caller_id):
    project = _project(request, public_id, admin=True)
    caller = selectors.caller_get(org=request.org, project=project, public_id=caller_id)
    form = CallerForm(request.POST or None, org=request.org, initial=CallerForm.initial_for(caller))
    if request.method == "POST" and form.is_valid():
        try:
            caller = services.caller_update(org=request.org, actor=request.membership,
                                            caller=caller, **form.cleaned_data)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return done(request, _detail_url(request, project), f"Caller {caller.name} saved.")
    context = {"form": form, "project": project, "caller": caller}
    return render(request, "projects/caller_form.html", context,
                  status=400 if form.errors else 200)


@require_POST
@org_view(scope="projects:read")
def project_role_set(request, public_id):
    project = _project(request, public_id, admin=True)
    form = ProjectRoleForm(request.POST, org=request.org)
    if form.is_valid():
        member = form.cleaned_data["membership"]
        try:
            role = services.project_role_set(org=request.org, actor=request.membership,
                                             project=project, membership=member,
                                             role=form.role_or_none())
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            label = f"is now {ProjectRole(role).label}" if role else "has no project role now"
            return done(request, _detail_url(request, project), f"{member.user.email} {label}.")
    context = detail_context(request, project, role_form=form)
    return render(request, "projects/project_detail.html", context, status=400)
