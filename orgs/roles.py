"""Org roles, their order, and the scopes each grants. Code checks scopes, never names.

Rank decides who may manage whom: nobody grants a role above their own, and nobody
changes or removes a member who outranks them. Security and finance share a rank but
neither holds `members:write`, so neither manages anybody.
"""

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    SECURITY = "security", "Security reviewer"
    FINANCE = "finance", "Finance owner"
    MEMBER = "member", "Member"
    AUDITOR = "auditor", "Auditor"


RANK = {
    Role.AUDITOR: 0,
    Role.MEMBER: 1,
    Role.FINANCE: 2,
    Role.SECURITY: 2,
    Role.ADMIN: 3,
    Role.OWNER: 4,
}

ROLE_HELP = {
    Role.OWNER: "Everything, including deleting the organization and appointing owners.",
    Role.ADMIN: "Members, invitations, projects and settings. Cannot appoint owners.",
    Role.SECURITY: "Signs off data boundaries, reads the audit log, can suspend rows.",
    Role.FINANCE: "Signs off budgets, watches usage and billing.",
    Role.MEMBER: "Creates projects and access requests; works inside granted projects.",
    Role.AUDITOR: "Reads everything, including the audit log. Changes nothing.",
}

_READ = {"org:read", "members:read", "projects:read", "catalog:read", "approvals:read",
         "evidence:read"}
# Takes part in the approval workflow at all: may own a row, be named its reviewer, sign,
# attach evidence, handle a finding, hold a project's admin or developer role. Every role
# but the auditor, who reads everything and changes nothing (approvals/permissions.py).
PARTICIPATE = "approvals:participate"

SCOPES: dict[str, frozenset[str]] = {
    Role.AUDITOR: frozenset(_READ | {"audit:read", "audit:export"}),
    # keys:hold: may be the person behind a team API key (security, finance and auditors never).
    Role.MEMBER: frozenset(
        _READ | {PARTICIPATE, "projects:create", "approvals:request", "keys:hold"}),
    Role.FINANCE: frozenset(_READ | {PARTICIPATE, "approvals:sign_finance", "billing:read"}),
    Role.SECURITY: frozenset(
        _READ | {PARTICIPATE, "audit:read", "audit:export", "approvals:sign_security",
                 "approvals:suspend"}
    ),
    Role.ADMIN: frozenset(
        _READ
        | {PARTICIPATE, "org:write", "members:write", "projects:create", "projects:admin",
           "audit:read", "audit:export", "approvals:request", "catalog:write", "keys:hold"}
    ),
}
SCOPES[Role.OWNER] = SCOPES[Role.ADMIN] | {"org:delete", "billing:read"}


def has_scope(role: str, scope: str) -> bool:
    return scope in SCOPES.get(role, frozenset())


def roles_with(scope: str) -> list[str]:
    """The roles that hold scope, e.g. to narrow a member picker in one query."""
    return [role.value for role in Role if has_scope(role, scope)]


def can_manage(actor_role: str, target_role: str) -> bool:
    """True if someone holding actor_role may grant, change or remove target_role."""
    return has_scope(actor_role, "members:write") and RANK[actor_role] >= RANK[target_role]


def grantable_roles(actor_role: str) -> list[Role]:
    """The roles actor_role may hand out, highest first, for forms and the API."""
    return [role for role in Role if can_manage(actor_role, role)]
