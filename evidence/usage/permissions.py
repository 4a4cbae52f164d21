"""Who may import usage and billing lines. Reading them is evidence:read (every org role,
auditors included)."""

# Platform admins (org admins and owners) and finance owners, who reconcile spend.
IMPORT_SCOPES = ("projects:admin", "approvals:sign_finance")


def can_import_usage(actor) -> bool:
    """Org admins, owners and finance owners import usage and billing files and push
    lines over the API; members, security reviewers and auditors do not."""
    return actor is not None and any(actor.has_scope(scope) for scope in IMPORT_SCOPES)


def can_read_usage(actor) -> bool:
    return actor is not None and actor.has_scope("evidence:read")
