"""The decision log page: what the decision service answered, as recorded by
approvals/decisions/log.py (sampled or full, per the org's approval settings)."""

from django.core.paginator import Paginator
from django.shortcuts import render

from approvals.decisions.forms import DecisionLogFilterForm
from approvals.decisions.selectors import decision_record_list, decision_records_with_callers
from orgs.decorators import org_view

PAGE_SIZE = 50


# Decisions say who called what and were refused: audit readers only (admins, owners,
# security, auditors), like the audit log.
@org_view(scope="audit:read")
def decision_log(request):
    form = DecisionLogFilterForm(request.GET or None)
    records = decision_record_list(org=request.org, **form.filters())
    page = Paginator(records, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode(),
               "records": decision_records_with_callers(org=request.org,
                                                        records=page.object_list)}
    return render(request, "approvals/decision_log.html", context)
