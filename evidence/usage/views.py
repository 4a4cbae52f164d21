"""HTML pages of usage and billing imports: recent lines with filters, the upload form,
and an import's progress and report. Every org role reads (evidence:read); importing is
for evidence.usage.permissions.can_import_usage (admins, owners, finance owners)."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse

from evidence.usage import selectors, services
from evidence.usage.forms import UsageFilterForm, UsageUploadForm
from evidence.usage.permissions import can_import_usage
from orgs.decorators import org_view
from orgs.forms import add_service_error

PAGE_SIZE = 50


@org_view(scope="evidence:read")
def usage_list(request):
    """Recent imports and usage lines, filtered by project, model and source; a constant
    number of queries whatever the row count (projects, imports, count, page)."""
    form = UsageFilterForm(request.GET or None, org=request.org)
    valid = form.is_valid() if form.is_bound else True
    filters = {k: v for k, v in form.cleaned_data.items() if v} if form.is_bound and valid \
        else {}
    records = selectors.usage_record_list(org=request.org, **filters)
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": Paginator(records, PAGE_SIZE).get_page(
                   request.GET.get("page")) if valid else None,
               "imports": list(selectors.usage_import_list(org=request.org)[:10]),
               "query": query.urlencode(), "can_import": can_import_usage(request.membership)}
    return render(request, "evidence/usage_list.html", context, status=200 if valid else 400)


@org_view(scope="evidence:read")
def usage_upload(request):
    """The upload form; a valid POST queues the import and shows its progress."""
    if not can_import_usage(request.membership):
        raise PermissionDenied("Only org admins, owners and finance owners import usage.")
    form = UsageUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            data = form.cleaned_data
            job = services.usage_import_create(
                org=request.org, actor=request.membership, kind=data["kind"],
                source=data["source"], upload=data["file"])
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return redirect(reverse("evidence:usage_import",
                                    args=[request.org.slug, job.public_id]))
    return render(request, "evidence/usage_upload.html", {"form": form},
                  status=400 if form.errors else 200)


@org_view(scope="evidence:read")
def usage_import(request, public_id):
    """One import's progress (htmx polls the partial every second until it is done) and
    its report: counts, or every bad line."""
    job = selectors.usage_import_get(org=request.org, public_id=public_id)
    template = "evidence/usage_import.html"
    if request.htmx and not request.htmx.boosted:
        template += "#progress"
    return render(request, template, {"job": job})
