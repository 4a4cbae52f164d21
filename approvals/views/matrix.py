"""The approval matrix pages (issue #6 items 6-8): the filterable, sortable matrix, its
CSV and XLSX exports, the lint report, and the org deny rules.

Everyone who reads the matrix (approvals:read, every role including auditors) sees the
pages and exports; creating and lifting deny rules is for admins, owners and security
reviewers (approvals.permissions.can_manage_deny_rules), enforced by the services and
mirrored by the booleans handed to templates. The exports are not audited, like the
audit log's own CSV export (orgs/views/audit.py): reading changes nothing.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from approvals import export, selectors
from approvals.matrix_forms import DenyRuleDeactivateForm, DenyRuleForm, MatrixFilterForm
from approvals.permissions import can_manage_deny_rules
from approvals.services import deny_rules
from approvals.workflow import Status
from orgs.decorators import org_view
from orgs.forms import add_service_error
from orgs.views import done, wants_partial

PAGE_SIZE = 50
# The matrix's columns that sort (label, sort key); the others are lists or people.
SORTABLE = (("Project", "project"), ("Environment", "environment"), ("Caller", "caller"),
            ("Budget / daily cap", "budget"), ("Renewal", "renewal"), ("Status", "status"),
            ("Version", "version"))
STATUS_BADGE = {
    Status.ACTIVE: "text-bg-success", Status.RENEWAL_DUE: "text-bg-warning",
    Status.SUSPENDED: "text-bg-danger", Status.REJECTED: "text-bg-danger",
    Status.IN_REVIEW: "text-bg-info", Status.REVOKED: "text-bg-secondary",
    Status.EXPIRED: "text-bg-secondary",
}


def _query(request, *drop) -> str:
    query = request.GET.copy()
    for name in drop:
        query.pop(name, None)
    return query.urlencode()


def _sort_headers(request, current: str) -> dict:
    """{sort key: (href query, direction shown or "")}: a header sorts ascending, and a
    second click on the current column reverses it."""
    base = _query(request, "page", "sort")
    headers = {}
    for _label, key in SORTABLE:
        active = current.removeprefix("-") == key
        target = key if not active or current.startswith("-") else f"-{key}"
        direction = ("desc" if current.startswith("-") else "asc") if active else ""
        headers[key] = (f"{base}&sort={target}" if base else f"sort={target}", direction)
    return headers


def _lines(page, lint: dict) -> list[dict]:
    return [{"row": row, "lint": lint.get(str(row.public_id), 0),
             "badge": STATUS_BADGE.get(row.status, "text-bg-light border")}
            for row in page.object_list]


@org_view(scope="approvals:read")
def matrix(request):
    """Org's policy rows, filtered and sorted, 50 a page, each with its lint count. htmx
    filter requests get the table fragment only."""
    form = MatrixFilterForm(request.GET or None, org=request.org)
    filters = form.filters()
    page = Paginator(selectors.matrix_list(org=request.org, filters=filters),
                     PAGE_SIZE).get_page(request.GET.get("page"))
    sort, _ = selectors.matrix_order(filters.get("sort"))
    context = {"form": form, "page": page, "sort": sort, "query": _query(request, "page"),
               "headers": _sort_headers(request, sort),
               "lines": _lines(page, selectors.lint_counts(org=request.org))}
    template = "approvals/matrix.html"
    return render(request, template + "#matrix_table" if wants_partial(request) else template,
                  context)


def _export_rows(request):
    """The rows the page shows for these filters (every page), or None for a bad filter:
    never export more than was asked for because one filter did not parse."""
    form = MatrixFilterForm(request.GET or None, org=request.org)
    if form.is_bound and not form.is_valid():
        return None, form
    return selectors.matrix_list(org=request.org, filters=form.filters()), form


def _bad_filter(form):
    errors = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
    return HttpResponseBadRequest(f"Bad filter: {errors}", content_type="text/plain")


def _filename(request, ext: str) -> str:
    return f'attachment; filename="matrix-{request.org.slug}-{timezone.now():%Y%m%d-%H%M%S}.{ext}"'


@org_view(scope="approvals:read")
def matrix_export_csv(request):
    """The filtered matrix as CSV, every column (approvals.export.COLUMNS), streamed."""
    rows, form = _export_rows(request)
    if rows is None:
        return _bad_filter(form)
    response = StreamingHttpResponse(export.csv_lines(rows),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = _filename(request, "csv")
    return response


@org_view(scope="approvals:read")
def matrix_export_xlsx(request):
    """The filtered matrix as an XLSX workbook with the same columns as the CSV."""
    rows, form = _export_rows(request)
    if rows is None:
        return _bad_filter(form)
    response = HttpResponse(export.xlsx_bytes(rows), content_type=export.XLSX_TYPE)
    response["Content-Disposition"] = _filename(request, "xlsx")
    return response


@org_view(scope="approvals:read")
def lint_report(request):
    """Every lint finding on the org's unfinished rows, grouped by rule."""
    report = selectors.lint_report(org=request.org)
    return render(request, "approvals/lint_report.html", {"report": report})


def _deny_rule_page(request, *, failed=None, form=None, status=200):
    rules = list(selectors.deny_rule_list(org=request.org, active=None))
    context = {"active": [r for r in rules if r.active],
               "lifted": [r for r in rules if not r.active],
               "can_manage": can_manage_deny_rules(request.membership),
               "failed": failed, "failed_form": form}
    return render(request, "approvals/deny_rule_list.html", context, status=status)


@org_view(scope="approvals:read")
def deny_rule_list(request):
    """Org's deny rules, active and lifted, with scope, reason and owner."""
    return _deny_rule_page(request)


@org_view(scope="approvals:read")
def deny_rule_create(request):
    """Admins, owners and security reviewers deny a model, action or data class."""
    if not can_manage_deny_rules(request.membership):
        raise PermissionDenied("Only admins and security reviewers manage deny rules.")
    form = DenyRuleForm(request.POST or None, org=request.org)
    if request.method == "POST" and form.is_valid():
        try:
            rule = deny_rules.deny_rule_create(org=request.org, actor=request.membership,
                                               **form.cleaned_data)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            for warning in rule.warnings:  # created all the same; said plainly
                messages.warning(request, warning)
            return done(request, reverse("approvals:deny_rule_list", args=[request.org.slug]),
                        f"Deny rule added: {rule}. It applies to every call from now on.")
    return render(request, "approvals/deny_rule_form.html", {"form": form},
                  status=400 if form.errors else 200)


@require_POST
@org_view(scope="approvals:read")
def deny_rule_deactivate(request, public_id):
    """Lift an active deny rule with a reason; the rule stays listed as lifted."""
    rule = selectors.deny_rule_get(org=request.org, public_id=public_id)
    if not can_manage_deny_rules(request.membership):
        raise PermissionDenied("Only admins and security reviewers manage deny rules.")
    form = DenyRuleDeactivateForm(request.POST)
    if form.is_valid():
        try:
            deny_rules.deny_rule_deactivate(org=request.org, actor=request.membership,
                                            rule=rule, **form.cleaned_data)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return done(request, reverse("approvals:deny_rule_list", args=[request.org.slug]),
                        f"Deny rule lifted: {rule}.")
    return _deny_rule_page(request, failed=rule, form=form, status=400)
