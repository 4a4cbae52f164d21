"""Findings pages: the org's list (filters, 50 a page), one finding with what raised it and
its actions (acknowledge, resolve with a note, reassign; one POST URL each), and the
project fragment (open findings and the spend chart) that the project page loads with
htmx, so the projects app never imports approvals.

Everyone in the org reads findings (approvals:read); the services decide who handles them
(owner, security reviewers, admins: 403 otherwise). A move the state does not allow
answers 409 with the page; a missing note answers 400 with the error under its field.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from approvals import finding_selectors as selectors
from approvals.charts import project_spend_chart, row_spend_chart
from approvals.finding_forms import FindingAssignForm, FindingFilterForm, FindingResolveForm
from approvals.findings import finding_acknowledge, finding_assign, finding_resolve
from approvals.models import PolicyRow
from approvals.permissions import can_handle_finding
from approvals.workflow import InvalidTransition
from orgs.decorators import org_view
from orgs.forms import add_service_error
from orgs.scoping import get_for_org_or_404
from orgs.views import done, wants_partial
from projects.models import Project

PAGE_SIZE = 50
PANEL_LIMIT = 10  # open findings on a row or project page; the list has the rest


@require_GET
@org_view(scope="approvals:read")
def finding_list(request):
    """The org's findings, unresolved first by default; filters by state, kind, project
    and row (?row=<uuid>)."""
    form = FindingFilterForm(request.GET or None, org=request.org)
    filters = {"state": "unresolved"}
    if form.is_valid():
        data = form.cleaned_data
        filters = {"state": data["state"] or "unresolved", "kind": data["kind"],
                   "project": data["project"]}
        if data["row"]:
            filters["row"] = get_for_org_or_404(PolicyRow.objects.all(), request.org,
                                                public_id=data["row"])
    findings = selectors.finding_list(org=request.org, **filters)
    page = Paginator(findings, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "approvals/finding_list.html", {
        "form": form, "page": page, "findings": page.object_list,
        "query": query.urlencode(), "row_filter": filters.get("row")},
        status=200 if form.is_bound is False or form.is_valid() else 400)


def _detail_items(detail) -> list[tuple[str, str]]:
    """A finding's detail as (label, text) pairs: "usage_usd" -> "usage usd", lists joined."""
    if not isinstance(detail, dict):
        return []
    return [(name.replace("_", " "), ", ".join(map(str, value)) if isinstance(value, list)
             else "—" if value is None else str(value)) for name, value in sorted(detail.items())]


def _detail(request, finding, *, status=200, resolve_form=None, assign_form=None,
            page_error=""):
    actor = request.membership
    can_handle = can_handle_finding(actor, finding)
    context = {
        "finding": finding, "can_handle": can_handle, "page_error": page_error,
        "resolve_form": resolve_form or FindingResolveForm(),
        "assign_form": assign_form or (FindingAssignForm(org=request.org) if can_handle
                                       else None),
        "detail_items": _detail_items(finding.detail),
    }
    return render(request, "approvals/finding_detail.html", context, status=status)


@require_GET
@org_view(scope="approvals:read")
def finding_detail(request, public_id):
    """One finding: what it says, what raised it (with a link), its row or project, who
    handled it, and the actions this person may take."""
    return _detail(request, selectors.finding_get(org=request.org, public_id=public_id))


def _url(request, finding):
    return reverse("approvals:finding_detail", args=[request.org.slug, finding.public_id])


def _act(request, finding, service, message, **kwargs):
    if not can_handle_finding(request.membership, finding):
        raise PermissionDenied("Only the finding's owner, security reviewers and admins "
                               "handle findings.")
    try:
        finding = service(org=request.org, actor=request.membership, finding=finding, **kwargs)
    except InvalidTransition as exc:
        return _detail(request, finding, status=409, page_error=str(exc))
    return done(request, _url(request, finding), message)


@require_POST
@org_view(scope="approvals:read")
def finding_acknowledge_view(request, public_id):
    finding = selectors.finding_get(org=request.org, public_id=public_id)
    return _act(request, finding, finding_acknowledge, "Finding acknowledged.")


@require_POST
@org_view(scope="approvals:read")
def finding_resolve_view(request, public_id):
    finding = selectors.finding_get(org=request.org, public_id=public_id)
    form = FindingResolveForm(request.POST)
    if form.is_valid():
        try:
            return _act(request, finding, finding_resolve, "Finding resolved.",
                        note=form.cleaned_data["note"])
        except ValidationError as exc:
            add_service_error(form, exc)
    return _detail(request, finding, status=400, resolve_form=form)


@require_POST
@org_view(scope="approvals:read")
def finding_assign_view(request, public_id):
    finding = selectors.finding_get(org=request.org, public_id=public_id)
    form = FindingAssignForm(request.POST, org=request.org)
    if form.is_valid():
        owner = form.cleaned_data["owner"]
        try:
            return _act(request, finding, finding_assign,
                        f"Finding handed to {owner.user.email}.", owner=owner)
        except ValidationError as exc:
            add_service_error(form, exc)
    elif not can_handle_finding(request.membership, finding):
        raise PermissionDenied("Only the finding's owner, security reviewers and admins "
                               "handle findings.")
    return _detail(request, finding, status=400, assign_form=form)


def row_findings_context(*, org, row) -> dict:
    """What the row page's findings include shows: its open findings and its spend chart
    (two queries)."""
    findings = list(selectors.finding_list(org=org, row=row)[:PANEL_LIMIT])
    return {"row_findings": findings, "row_chart": row_spend_chart(org=org, row=row)}


@require_GET
@org_view(scope="approvals:read")
def project_monitor(request, public_id):
    """The project page's fragment (htmx; a page of its own without): the project's open
    findings and its spend against the budgets of its rows in force."""
    project = get_for_org_or_404(Project.objects.all(), request.org, public_id=public_id)
    findings = list(selectors.finding_list(org=request.org, project=project)[:PANEL_LIMIT])
    context = {"project": project, "findings": findings,
               "chart": project_spend_chart(org=request.org, project=project)}
    template = "approvals/project_monitor.html"
    return render(request, f"{template}#panel" if wants_partial(request) else template,
                  context)
