"""Writes for the approval matrix, one service per verb (split by noun)."""

from approvals.services.deny_rules import deny_rule_create, deny_rule_deactivate
from approvals.services.renewal import (
    renewal_review_answer,
    renewal_review_decide,
    renewal_review_start,
)
from approvals.services.rows import row_create, row_update
from approvals.services.settings import approval_settings_update
from approvals.services.signoffs import row_reviewer_grant, signoff_record
from approvals.services.workflow import (
    row_expire,
    row_mark_renewal_due,
    row_reject,
    row_request_changes,
    row_resume,
    row_revoke,
    row_screen,
    row_send_to_review,
    row_start_evidence,
    row_start_testing,
    row_submit,
    row_suspend,
)

__all__ = [
    "approval_settings_update", "renewal_review_answer", "renewal_review_decide",
    "renewal_review_start", "deny_rule_create", "deny_rule_deactivate", "row_create", "row_expire",
    "row_mark_renewal_due", "row_reject", "row_request_changes", "row_resume",
    "row_reviewer_grant", "row_revoke", "row_screen", "row_send_to_review",
    "row_start_evidence", "row_start_testing", "row_submit", "row_suspend", "row_update",
    "signoff_record",
]
