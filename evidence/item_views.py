"""The org-wide evidence list: every item the org collected, with its review state and
validity. Every org role reads it (evidence:read); items are attached and reviewed on
their rows' pages (approvals/views/evidence.py)."""

from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone

from evidence import selectors
from evidence.item_forms import EvidenceFilterForm
from orgs.decorators import org_view

PAGE_SIZE = 50


@org_view(scope="evidence:read")
def item_list(request):
    """Items with kind and state filters, 50 a page: two queries (count, page)."""
    filters = EvidenceFilterForm(request.GET or None)
    items = selectors.evidence_item_list(org=request.org, **filters.filters())
    page = Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"filters": filters, "page": page, "query": query.urlencode(),
               "today": timezone.localdate()}
    return render(request, "evidence/item_list.html", context)
