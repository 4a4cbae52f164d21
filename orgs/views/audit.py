"""The audit log: a filtered, paginated page and a streamed CSV export."""

import csv
import json

from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from orgs import selectors
from orgs.decorators import org_view
from orgs.forms import AuditFilterForm
from orgs.spreadsheet import Echo, safe_cell

PAGE_SIZE = 50
CSV_HEADER = ("seq", "created_at", "actor", "action", "object_type", "object_id",
              "object_repr", "changes", "request_id", "client_ip", "prev_hash", "hash")


@org_view(scope="audit:read")
def audit_list(request):
    form = AuditFilterForm(request.GET or None, org=request.org)
    events = selectors.audit_event_list(org=request.org, **form.filters())
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode(),
               "can_export": request.membership.has_scope("audit:export")}
    return render(request, "orgs/audit_list.html", context)


def _csv_lines(events):
    writer = csv.writer(Echo())
    yield writer.writerow(CSV_HEADER)
    # iterator(): the export can be the whole log; never hold it in memory.
    for e in events.iterator(chunk_size=2000):
        yield writer.writerow([
            e.seq, e.created_at.isoformat(), safe_cell(e.actor_label), e.action, e.object_type,
            safe_cell(e.object_id), safe_cell(e.object_repr),
            safe_cell(json.dumps(e.changes, sort_keys=True, default=str)),
            e.request_id, e.client_ip or "", e.prev_hash, e.hash,
        ])


@org_view(scope="audit:export")
def audit_export(request):
    """Every event matching the page's filters as CSV, newest first, streamed."""
    form = AuditFilterForm(request.GET or None, org=request.org)
    if form.is_bound and not form.is_valid():
        # Never export more than was asked for because one filter did not parse.
        errors = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
        return HttpResponseBadRequest(f"Bad filter: {errors}", content_type="text/plain")
    events = selectors.audit_event_list(org=request.org, **form.filters())
    name = f"audit-{request.org.slug}-{timezone.now():%Y%m%d-%H%M%S}.csv"
    response = StreamingHttpResponse(_csv_lines(events), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
