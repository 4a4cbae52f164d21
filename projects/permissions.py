"""Predicates for projects. Org scopes come first; guardian grants on the project add to them."""

from orgs.models import Membership
from orgs.roles import PARTICIPATE
from projects.models import Project
from projects.selectors import project_role_of


def can_create_project(actor: Membership) -> bool:
    return actor.has_scope("projects:create")


def can_admin_project(actor: Membership, project: Project) -> bool:
    """Org admins/owners, or whoever holds the project admin role on this project (never an
    auditor: auditors change nothing, whatever project role they were given)."""
    if project.org_id != actor.org_id or not actor.has_scope(PARTICIPATE):
        return False
    if actor.has_scope("projects:admin"):
        return True
    return project_role_of(project=project, user=actor.user) == "admin"


# Org roles without this scope (security, finance, auditor) never create or hold a key,
# whatever project role they are given: reviewers must not have a route to model calls.
KEY_HOLDER_SCOPE = "keys:hold"
# Tiers where a developer may manage keys; every other tier needs a project admin.
DEVELOPER_TIERS = frozenset({"development"})


def can_hold_keys(member: Membership) -> bool:
    """Whether this member (as key creator or as a caller's owner) may hold a key at all."""
    return member.has_scope(KEY_HOLDER_SCOPE)


def can_manage_keys(actor: Membership, environment) -> bool:
    """Create or rotate keys of this environment: org admins and owners; the project's
    admins; its developers for development-tier environments. Never reviewer roles."""
    if environment.org_id != actor.org_id or not can_hold_keys(actor):
        return False
    if actor.has_scope("projects:admin"):
        return True
    role = project_role_of(project=environment.project, user=actor.user)
    if role == "admin":
        return True
    return role == "developer" and environment.tier in DEVELOPER_TIERS


def can_revoke_key(actor: Membership, key) -> bool:
    """Revoke a key: whoever may manage its environment's keys, and security reviewers
    (approvals:suspend), who may revoke any credential but never hold one."""
    if key.org_id != actor.org_id:
        return False
    return actor.has_scope("approvals:suspend") or can_manage_keys(actor, key.environment)
