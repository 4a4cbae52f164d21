"""Predicates for the approval matrix. Org scopes first; a guardian grant on one row (the
named reviewer of that row) adds to them. Every predicate is False across orgs, and every
predicate that lets someone change something is False for a member without
approvals:participate (auditors read everything and change nothing)."""

from approvals.models import PolicyRow, PolicyRowUserObjectPermission, SignOff
from orgs.models import Membership
from orgs.roles import PARTICIPATE

# The org scope, and the one-off guardian permission on a row, that let someone sign a role.
SIGN_SCOPES = {
    SignOff.Role.SECURITY: "approvals:sign_security",
    SignOff.Role.FINANCE: "approvals:sign_finance",
}
GRANT_PERMS = {
    SignOff.Role.SECURITY: "sign_security_policyrow",
    SignOff.Role.FINANCE: "sign_finance_policyrow",
    SignOff.Role.APP_OWNER: "sign_app_owner_policyrow",
}
# The authority that may delegate each role on one row: the same authority (a security
# reviewer names a security reviewer, finance a finance one). Admins and owners hold
# neither sign scope, so they cannot manufacture a security or finance signature path;
# they name app-owner reviewers (members:write), as before.
DELEGATE_SCOPES = {
    SignOff.Role.SECURITY: SIGN_SCOPES[SignOff.Role.SECURITY],
    SignOff.Role.FINANCE: SIGN_SCOPES[SignOff.Role.FINANCE],
    SignOff.Role.APP_OWNER: "members:write",
}
# "Platform": who runs the screen, test and evidence steps and may revoke rows.
PLATFORM_SCOPE = "projects:admin"


def _same_org(actor: Membership | None, obj) -> bool:
    return actor is not None and obj.org_id == actor.org_id


def _acts(actor: Membership | None, obj) -> bool:
    """Same org and takes part in the workflow: the gate of every write predicate."""
    return _same_org(actor, obj) and actor.has_scope(PARTICIPATE)


def grants_of(actor: Membership, rows) -> set[tuple[int, str]]:
    """{(row pk, codename)} of actor's one-off grants on these rows, in one query (the
    sign-off inbox checks many rows at once)."""
    return set(PolicyRowUserObjectPermission.objects.filter(
        user_id=actor.user_id, content_object__in=rows, content_object__org_id=actor.org_id,
    ).values_list("content_object_id", "permission__codename"))


def has_grant(actor: Membership, row: PolicyRow, role: str, *, grants=None) -> bool:
    """True if actor holds the one-off guardian grant to sign `role` on this row."""
    if grants is None:
        grants = grants_of(actor, [row])
    return (row.pk, GRANT_PERMS[role]) in grants


def can_request(actor: Membership) -> bool:
    """Members, admins and owners propose rows (approvals:request)."""
    return actor.has_scope("approvals:request") and actor.has_scope(PARTICIPATE)


def can_edit(actor: Membership, row: PolicyRow) -> bool:
    """The requester, the row's app owner and org admins edit and (re)submit a row."""
    if not _acts(actor, row):
        return False
    return (actor.pk in (row.requested_by_id, row.app_owner_id)
            or actor.has_scope(PLATFORM_SCOPE))


def can_run_pipeline(actor: Membership, row: PolicyRow) -> bool:
    """Platform (org admins and owners) moves a row through screen, test and evidence."""
    return _acts(actor, row) and actor.has_scope(PLATFORM_SCOPE)


def can_send_back(actor: Membership, row: PolicyRow) -> bool:
    """Platform and the security and finance reviewers request changes or reject a row
    under review; never its requester."""
    if not _acts(actor, row) or actor.pk == row.requested_by_id:
        return False
    return any(actor.has_scope(s) for s in (PLATFORM_SCOPE, *SIGN_SCOPES.values()))


def may_sign_role(actor: Membership, row: PolicyRow, role: str, *, grants=None) -> bool:
    """Whether actor holds the authority for `role` on this row at all: the matching org
    scope (security, finance), being the row's app owner, or a guardian grant. Never an
    auditor, whatever grant or ownership they were given (or kept after a role change)."""
    if not _acts(actor, row) or role not in SignOff.Role.values:
        return False
    if role == SignOff.Role.APP_OWNER and actor.pk == row.app_owner_id:
        return True
    scope = SIGN_SCOPES.get(role)
    return bool(scope and actor.has_scope(scope)) or has_grant(actor, row, role, grants=grants)


def sign_refusal(actor: Membership, row: PolicyRow, role: str, *, live_signoffs=None,
                 grants=None) -> str | None:
    """Why actor may not sign `role` on this row, or None if they may. On top of
    may_sign_role, separation of duties: the requester never signs security or finance,
    and one person never signs two roles of the same row (live signatures). As all three
    roles must approve, the requester is never the only approver.
    live_signoffs / grants: pass them when the caller has loaded them already."""
    if not may_sign_role(actor, row, role, grants=grants):
        return f"You cannot sign as {SignOff.Role(role).label.lower()} on this row." \
            if role in SignOff.Role.values else f"Unknown sign-off role {role!r}."
    if actor.pk == row.requested_by_id and role != SignOff.Role.APP_OWNER:
        return "The requester cannot sign security or finance on their own row."
    if live_signoffs is None:
        live_signoffs = row.signoffs.filter(voided_at__isnull=True)
    if any(s.signer_id == actor.pk and s.role != role for s in live_signoffs):
        return "You already signed another role on this row; one person signs one role."
    return None


def can_sign(actor: Membership, row: PolicyRow, role: str, **loaded) -> bool:
    """True if actor may sign `role` on this row now (see sign_refusal)."""
    return sign_refusal(actor, row, role, **loaded) is None


def can_suspend(actor: Membership, row: PolicyRow) -> bool:
    """Security reviewers (approvals:suspend) suspend and resume rows, e.g. in an incident."""
    return _acts(actor, row) and actor.has_scope("approvals:suspend")


def can_revoke(actor: Membership, row: PolicyRow) -> bool:
    """Security reviewers and platform revoke a row for good."""
    return _acts(actor, row) and (actor.has_scope("approvals:suspend")
                                      or actor.has_scope(PLATFORM_SCOPE))


def can_renew(actor: Membership, row: PolicyRow) -> bool:
    """A security reviewer or platform opens, answers and decides a row's renewal review;
    never the requester, who would otherwise extend their own approval. Renewing then
    takes the three sign-offs again (services/renewal.py)."""
    if not _acts(actor, row) or actor.pk == row.requested_by_id:
        return False
    return actor.has_scope("approvals:sign_security") or actor.has_scope(PLATFORM_SCOPE)


def can_edit_approval_settings(actor: Membership) -> bool:
    """Org admins and owners (org:write) change the org's approval settings; every member
    reads them."""
    return actor.has_scope("org:write") and actor.has_scope(PARTICIPATE)


def can_manage_deny_rules(actor: Membership) -> bool:
    """Admins, owners and security reviewers define and lift org deny rules."""
    return actor.has_scope(PARTICIPATE) and (actor.has_scope("org:write")
                                             or actor.has_scope("approvals:sign_security"))


def can_grant_role(actor: Membership, row: PolicyRow, role: str) -> bool:
    """Whether actor may name a one-off reviewer for `role` on this row: only a holder of
    that same authority (DELEGATE_SCOPES). Used by row_reviewer_grant and the row page."""
    scope = DELEGATE_SCOPES.get(role)
    return bool(scope) and _acts(actor, row) and actor.has_scope(scope)


def grantable_roles(actor: Membership, row: PolicyRow) -> list[str]:
    """The sign-off roles actor may delegate on this row, in the row page's order."""
    return [role for role in SignOff.Role.values if can_grant_role(actor, row, role)]


def can_grant_reviewer(actor: Membership, row: PolicyRow) -> bool:
    """Whether the row page offers actor a "Name a reviewer" control at all."""
    return bool(grantable_roles(actor, row))


def grantee_refusal(member: Membership, row: PolicyRow, role: str) -> str | None:
    """Why `member` may not be named reviewer for `role` on this row, or None: a member of
    the row's org who takes part in the workflow (never an auditor) and, for security and
    finance, not the row's requester (who never signs those on their own row)."""
    if member.org_id != row.org_id:
        return "That person is not a member of this organization."
    if not member.has_scope(PARTICIPATE):
        return "Auditors read and never sign; name someone who takes part in the workflow."
    if member.pk == row.requested_by_id and role != SignOff.Role.APP_OWNER:
        return "The requester cannot review security or finance on their own row."
    return None


def may_be_granted(member: Membership, row: PolicyRow, role: str) -> bool:
    """True if `member` may be named reviewer for `role` on this row (grantee_refusal)."""
    return grantee_refusal(member, row, role) is None


# Rows past these states allow nothing; their evidence file is closed.
_EVIDENCE_CLOSED = frozenset({PolicyRow.Status.REVOKED, PolicyRow.Status.EXPIRED})


def can_attach_evidence(actor: Membership, row: PolicyRow) -> bool:
    """The row's evidence owner, app owner, requester and engineering owner, and platform,
    attach evidence to a row that is not finished (revoked or expired)."""
    if not _acts(actor, row) or row.status in _EVIDENCE_CLOSED:
        return False
    owners = (row.evidence_owner_id, row.app_owner_id, row.requested_by_id,
              row.engineering_owner_id)
    return actor.pk in owners or actor.has_scope(PLATFORM_SCOPE)


def can_run_smoke_tests(actor: Membership, row: PolicyRow) -> bool:
    """The row's evidence owner and engineering owner, and platform, run its route smoke
    tests (they send real, if synthetic, traffic through the gateway key), while the row is
    not finished (revoked or expired). The requester and app owner ask one of them."""
    if not _acts(actor, row) or row.status in _EVIDENCE_CLOSED:
        return False
    return (actor.pk in (row.evidence_owner_id, row.engineering_owner_id)
            or actor.has_scope(PLATFORM_SCOPE))


def can_handle_finding(actor: Membership, finding) -> bool:
    """Who acknowledges, resolves and reassigns a finding: its owner, security reviewers
    and platform (org admins and owners)."""
    if not _acts(actor, finding):
        return False
    return (actor.pk == finding.owner_id or actor.has_scope(SIGN_SCOPES[SignOff.Role.SECURITY])
            or actor.has_scope(PLATFORM_SCOPE))


def sees_all_findings(actor: Membership) -> bool:
    """Security and platform watch every finding; others see those they own first."""
    return actor.has_scope(SIGN_SCOPES[SignOff.Role.SECURITY]) or actor.has_scope(PLATFORM_SCOPE)
