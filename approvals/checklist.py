"""The evidence checklist of a row: the seed's controls, the artifact that closes each,
and what is missing, rejected or expired. Not built yet (#6 evidence): the row page calls
row_evidence_context() and includes templates/approvals/_row_evidence.html with it."""


def row_evidence_context(*, row, actor) -> dict:
    """Template context for the evidence section of one row's page (constant queries)."""
    return {}
