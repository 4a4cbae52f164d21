"""Predicates over memberships. Views, API permission classes and templates all use these."""

from orgs.models import Membership
from orgs.roles import can_manage


def can_manage_members(actor: Membership) -> bool:
    return actor.has_scope("members:write")


def can_change_role(actor: Membership, target: Membership, new_role: str) -> bool:
    """Actor outranks-or-equals both the member's current role and the new one."""
    return can_manage(actor.role, target.role) and can_manage(actor.role, new_role)


def can_remove(actor: Membership, target: Membership) -> bool:
    """Anyone may leave; removing somebody else needs members:write and rank."""
    return actor.pk == target.pk or can_manage(actor.role, target.role)


def can_edit_org(actor: Membership) -> bool:
    return actor.has_scope("org:write")


def can_read_audit(actor: Membership) -> bool:
    return actor.has_scope("audit:read")
