"""Predicates for evidence items. Who may collect evidence for a policy row is decided in
approvals (it knows the row's owners); here only what concerns the item itself."""

# Platform, security and finance review evidence: the people who sign or run the pipeline.
REVIEW_SCOPES = ("projects:admin", "approvals:sign_security", "approvals:sign_finance")


def can_read_evidence(actor) -> bool:
    """Every org role reads evidence (auditors included); files are downloaded through
    an org-scoped view, never a public URL."""
    return actor is not None and actor.has_scope("evidence:read")


def can_review_evidence(actor, item) -> bool:
    """Platform (projects:admin), security and finance reviewers of the item's org accept
    or reject it; never the person who collected it (a second pair of eyes)."""
    if actor is None or item.org_id != actor.org_id:
        return False
    if item.collector_id is not None and item.collector_id == actor.pk:
        return False
    return any(actor.has_scope(scope) for scope in REVIEW_SCOPES)
