"""Writes for projects, environments, callers and project roles; each audited in-transaction."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.dispatch import receiver
from guardian.shortcuts import assign_perm, remove_perm

from orgs.audit import diff, record_event
from orgs.models import Membership
from orgs.roles import PARTICIPATE
from orgs.signals import member_removing
from projects.models import Caller, Environment, Project, ProjectUserObjectPermission
from projects.permissions import can_admin_project, can_create_project
from projects.roles import ALL_PERMS, PERMS, ProjectRole
from projects.selectors import project_role_of


def _require_admin(actor, project):
    if not can_admin_project(actor, project):
        raise PermissionDenied("Only project admins and org admins can change this project.")


@transaction.atomic
def project_create(*, org, actor: Membership, name: str, slug: str,
                   description: str = "") -> Project:
    """Members with projects:create make a project; it gets development, staging and
    production environments, and the creator becomes its project admin. Audits
    project.created."""
    if not can_create_project(actor):
        raise PermissionDenied("Your role cannot create projects.")
    slug = (slug or "").strip().lower()
    if Project.objects.for_org(org).filter(slug=slug).exists():
        raise ValidationError({"slug": f"A project with the short name '{slug}' already exists."})
    project = Project(org=org, name=(name or "").strip(), slug=slug, description=description)
    project.full_clean()
    project.save()
    for tier in Environment.DEFAULTS:
        Environment.objects.create(org=org, project=project, name=tier, tier=tier)
    _set_role(project, actor.user, ProjectRole.ADMIN)
    record_event(org=org, actor=actor, action="project.created", obj=project,
                 changes={"name": [None, project.name], "slug": [None, slug],
                          "environments": [None, [str(t) for t in Environment.DEFAULTS]]})
    return project


@transaction.atomic
def project_update(*, org, actor: Membership, project: Project, **fields) -> Project:
    """Project admins rename or describe a project (the slug stays). Audits project.updated."""
    _require_admin(actor, project)
    project = Project.objects.for_org(org).select_for_update().get(pk=project.pk)
    allowed = ("name", "description")
    before = {f: getattr(project, f) for f in allowed}
    for key, value in fields.items():
        if key not in allowed:
            raise ValidationError({key: "This field cannot be changed."})
        setattr(project, key, value)
    project.full_clean()
    project.save()
    if changes := diff(before, {f: getattr(project, f) for f in allowed}):
        record_event(org=org, actor=actor, action="project.updated", obj=project,
                     changes=changes)
    return project


@transaction.atomic
def environment_create(*, org, actor: Membership, project: Project, name: str,
                       tier: str = Environment.Tier.DEVELOPMENT) -> Environment:
    """Project admins add an environment; names are unique per project; the tier defaults
    to the model's (the API's tier is optional). Audits environment.created."""
    _require_admin(actor, project)
    assert project.org_id == org.pk
    name = (name or "").strip().lower()
    if Environment.objects.for_org(org).filter(project=project, name=name).exists():
        raise ValidationError({"name": f"This project already has an environment '{name}'."})
    env = Environment(org=org, project=project, name=name, tier=tier)
    env.full_clean()
    env.save()
    record_event(org=org, actor=actor, action="environment.created", obj=env,
                 changes={"name": [None, name], "tier": [None, tier],
                          "project": [None, str(project.public_id)]})
    return env


def _check_owner(org, owner):
    if not isinstance(owner, Membership) or owner.org_id != org.pk:
        raise ValidationError({"owner": "The owner must be a member of this organization."})


@transaction.atomic
def caller_create(*, org, actor: Membership, project: Project, name: str, kind: str,
                  owner: Membership, description: str = "") -> Caller:
    """Project admins register a caller with a named owner. Audits caller.created."""
    _require_admin(actor, project)
    assert project.org_id == org.pk
    _check_owner(org, owner)
    name = (name or "").strip()
    if Caller.objects.for_org(org).filter(project=project, name__iexact=name).exists():
        raise ValidationError({"name": f"This project already has a caller named '{name}'."})
    caller = Caller(org=org, project=project, name=name, kind=kind, owner=owner,
                    description=description)
    caller.full_clean()
    caller.save()
    record_event(org=org, actor=actor, action="caller.created", obj=caller,
                 changes={"name": [None, name], "kind": [None, kind],
                          "owner": [None, owner.user.email]})
    return caller


@transaction.atomic
def caller_update(*, org, actor: Membership, caller: Caller, **fields) -> Caller:
    """Project admins rename a caller, change its kind, owner or description. Audits
    caller.updated."""
    _require_admin(actor, caller.project)
    caller = Caller.objects.for_org(org).select_for_update().get(pk=caller.pk)
    allowed = ("name", "kind", "owner", "description")
    if "owner" in fields:
        _check_owner(org, fields["owner"])
    siblings = Caller.objects.for_org(org).filter(project_id=caller.project_id).exclude(
        pk=caller.pk)
    if "name" in fields and siblings.filter(name__iexact=fields["name"]).exists():
        raise ValidationError({"name": f"This project already has a caller named "
                                       f"'{fields['name']}'."})

    def snapshot():
        return {f: str(getattr(caller, f)) for f in allowed}

    before = snapshot()
    for key, value in fields.items():
        if key not in allowed:
            raise ValidationError({key: "This field cannot be changed."})
        setattr(caller, key, value)
    caller.full_clean()
    caller.save()
    if changes := diff(before, snapshot()):
        record_event(org=org, actor=actor, action="caller.updated", obj=caller, changes=changes)
    return caller


def _set_role(project, user, role):
    for codename in ALL_PERMS:
        remove_perm(f"projects.{codename}", user, project)
    if role:
        for codename in PERMS[role]:
            assign_perm(f"projects.{codename}", user, project)


@transaction.atomic
def project_role_set(*, org, actor: Membership, project: Project, membership: Membership,
                     role: str | None) -> str | None:
    """Project admins give a member a project role (admin, developer, viewer) or take it
    away (role=None). Audits project.role_changed."""
    _require_admin(actor, project)
    if membership.org_id != org.pk:
        raise ValidationError({"membership": "That person is not a member of this organization."})
    if role is not None and role not in ProjectRole.values:
        raise ValidationError({"role": f"'{role}' is not a project role."})
    if role not in (None, ProjectRole.VIEWER) and not membership.has_scope(PARTICIPATE):
        # An external auditor on one project is a viewer; auditors change nothing.
        raise ValidationError({"role": "Auditors can only be given the viewer role."})
    old = project_role_of(project=project, user=membership.user)
    if old == role:
        return role
    _set_role(project, membership.user, role)
    record_event(org=org, actor=actor, action="project.role_changed", obj=project,
                 object_repr=f"{project.name}: {membership.user.email}"[:200],
                 changes={"role": [old, role]})
    return role


@receiver(member_removing)
def _drop_project_roles(sender, org, membership, **kwargs):
    """A member who leaves the org loses every project role in it (same transaction)."""
    ProjectUserObjectPermission.objects.filter(
        user=membership.user, content_object__org=org
    ).delete()
