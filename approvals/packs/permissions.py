"""Who collects audit extracts and who exports and downloads evidence packs.

A pack holds the audit extract of its rows, so it goes to those who read the audit log
anyway (audit:export: auditors, security, admins, owners), plus the row's evidence owner
for a row pack and, for download, whoever requested it. Every predicate is False across
orgs."""

from approvals.permissions import PLATFORM_SCOPE
from orgs.roles import PARTICIPATE

AUDIT_EXPORT = "audit:export"


def _same_org(actor, obj) -> bool:
    return actor is not None and obj.org_id == actor.org_id


def can_collect_audit_extract(actor, row) -> bool:
    """The row's evidence owner, security reviewers and platform (admins, owners) collect
    an audit extract of a row; auditors read it, they do not add to the row."""
    if not _same_org(actor, row) or not actor.has_scope(PARTICIPATE):
        return False
    return (actor.pk == row.evidence_owner_id or actor.has_scope("approvals:sign_security")
            or actor.has_scope(PLATFORM_SCOPE))


def can_export_row_pack(actor, row) -> bool:
    """Auditors, security, admins and owners, and the row's evidence owner, export the
    evidence pack of a row."""
    return _same_org(actor, row) and (actor.has_scope(AUDIT_EXPORT)
                                      or actor.pk == row.evidence_owner_id)


def can_export_project_pack(actor, project) -> bool:
    """Auditors, security, admins and owners export the evidence pack of a project."""
    return _same_org(actor, project) and actor.has_scope(AUDIT_EXPORT)


def can_see_all_packs(actor) -> bool:
    """Auditors, security, admins and owners see and download every pack of the org."""
    return actor is not None and actor.has_scope(AUDIT_EXPORT)


def can_download_pack(actor, pack) -> bool:
    """Who sees every pack, and the member who requested this one."""
    return _same_org(actor, pack) and (can_see_all_packs(actor)
                                       or actor.pk == pack.requested_by_id)
