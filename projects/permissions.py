"""Predicates for projects. Org scopes come first; guardian grants on the project add to them."""

from orgs.models import Membership
from projects.models import Project
from projects.selectors import project_role_of


def can_create_project(actor: Membership) -> bool:
    return actor.has_scope("projects:create")


def can_admin_project(actor: Membership, project: Project) -> bool:
    """Org admins/owners, or whoever holds the project admin role on this project."""
    if project.org_id != actor.org_id:
        return False
    if actor.has_scope("projects:admin"):
        return True
    return project_role_of(project=project, user=actor.user) == "admin"
