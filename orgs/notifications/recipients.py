"""Who hears about what: org roles per event category, plus the people an event names.

A service that knows the owners of its subject (a key's project admins, a row's owners)
puts their user ids in the event payload under "audience".
"""

from orgs.roles import Role

# Category -> org roles that are told by default.
ROLE_AUDIENCE = {
    "member": {Role.OWNER, Role.ADMIN},
    "security": {Role.OWNER, Role.ADMIN, Role.SECURITY},
    "key": {Role.SECURITY},
    "usage": {Role.FINANCE},
    "billing": {Role.OWNER, Role.FINANCE},
    "approval": {Role.SECURITY, Role.FINANCE},
    "catalog": {Role.ADMIN},
    "webhook": {Role.OWNER, Role.ADMIN},
    "finding": {Role.SECURITY},
}
# Categories that email by default (the rest are in-app only until a person opts in).
EMAIL_BY_DEFAULT = {"security", "key", "billing", "webhook", "digest"}
# Single kinds that email by default in a category that does not: a row's renewal
# reminders, overdue notice and expiry (approvals/jobs.py) must reach its owners' inbox.
# (approval.renewal_due stays in-app: it comes with the first reminder's email.)
# A scheduled catalog refresh that stopped working is told once (evidence/refresh.py): by
# email, or nobody notices the catalog going stale.
# So must a row's expired or expiring evidence (approvals/evidence_expiry.py).
EMAIL_KINDS_BY_DEFAULT = {"approval.renewal_reminder", "approval.renewal_overdue",
                          "approval.expired", "catalog.refresh_failed", "evidence.expired",
                          "evidence.expiring"}
CATEGORY_LABELS = {
    "member": "Members and roles",
    "security": "Security policy and sign-ins",
    "key": "Team API keys",
    "usage": "Usage and quota thresholds",
    "billing": "Billing and budgets",
    "approval": "Approvals, sign-offs and renewals",
    "catalog": "Model catalog changes",
    "webhook": "Webhook endpoints",
    "finding": "Findings (reconciliation, catalog changes, expired evidence)",
    "evidence": "Evidence of your rows: collected, reviewed, expiring, expired",
    # Not an event category: the weekly digest email (approvals/digest.py) reads this one
    # preference (email on or off; it has no in-app form).
    "digest": "Weekly digest of what is due, open and over budget",
}


def default_preference(category: str, severity: str, kind: str = "") -> tuple[bool, bool]:
    """(in_app, email) when a person has not chosen: critical events always email."""
    return True, (category in EMAIL_BY_DEFAULT or kind in EMAIL_KINDS_BY_DEFAULT
                  or severity == "critical")
