"""Reads of findings (approvals/findings.py raises and handles them): lists for the
findings page, the API, the row and project pages and the dashboard."""

from django.db.models import Q, QuerySet

from approvals.models import Finding
from approvals.permissions import sees_all_findings
from orgs.scoping import get_for_org_or_404

UNRESOLVED = (Finding.State.OPEN, Finding.State.ACKNOWLEDGED)
_FINDING_RELATED = ("row__caller", "row__environment", "row__project", "project",
                    "owner__user")


def finding_list(*, org, state: str = "unresolved", kind: str = "", project=None, row=None,
                 owner=None) -> QuerySet[Finding]:
    """Org's findings, newest first, filtered by state ("unresolved" = open or acknowledged,
    "all", or one state), kind, project, row and owner; joined for a list (one query)."""
    qs = Finding.objects.for_org(org).select_related(*_FINDING_RELATED)
    if state == "unresolved":
        qs = qs.filter(state__in=UNRESOLVED)
    elif state and state != "all":
        qs = qs.filter(state=state)
    if kind:
        qs = qs.filter(kind=kind)
    if project is not None:
        qs = qs.filter(project=project)
    if row is not None:
        qs = qs.filter(row=row)
    if owner is not None:
        qs = qs.filter(owner=owner)
    return qs.order_by("-raised_at", "-pk")


def finding_get(*, org, public_id) -> Finding:
    """One finding of org with who handled it (404 when missing or foreign)."""
    qs = Finding.objects.select_related(*_FINDING_RELATED, "acknowledged_by__user",
                                        "resolved_by__user")
    return get_for_org_or_404(qs, org, public_id=public_id)


def findings_for_person(*, org, actor) -> QuerySet[Finding]:
    """The unresolved findings waiting for actor: those they own; every one for security
    reviewers and platform (the dashboard's attention panel)."""
    qs = finding_list(org=org)
    if not sees_all_findings(actor):
        qs = qs.filter(Q(owner=actor))
    return qs
