"""Not built yet: see approvals/urls.py for what goes here."""

from django.http import Http404


def inbox(request, org_slug, **kwargs):
    raise Http404("Not built yet")


def row_detail(request, org_slug, **kwargs):
    raise Http404("Not built yet")


def row_move(request, org_slug, **kwargs):
    raise Http404("Not built yet")


def row_sign(request, org_slug, **kwargs):
    raise Http404("Not built yet")


def row_reviewer_grant(request, org_slug, **kwargs):
    raise Http404("Not built yet")

# The workflow verbs a button on the row page posts (sign-offs have their own URL).
MOVES = ("submit", "screen", "start_testing", "start_evidence", "send_to_review",
         "request_changes", "reject", "mark_renewal_due", "suspend", "resume", "revoke",
         "expire")
