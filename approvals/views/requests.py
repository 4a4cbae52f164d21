"""Filing and editing requests: the org's open requests, the guided request form (one page
with sections), its validate-as-you-go endpoint and the catalog model picker.

Anyone in the org reads the request list; filing needs approvals:request (members, admins,
owners), so auditors, finance and security get 403. Editing follows
approvals.permissions.can_edit and approvals.workflow.EDITABLE; the services decide
again. After a save the browser goes to the row's page.
"""

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from approvals import selectors
from approvals.forms import NARROWS, SECTIONS, RowRequestForm
from approvals.permissions import can_edit, can_request
from approvals.workflow import EDITABLE, Status
from orgs.decorators import org_view
from orgs.views import done

PAGE_SIZE = 50
# The picker shows this many matches; the requester narrows the search for more.
MODEL_RESULTS = 25
TEMPLATE = "approvals/request_form.html"

S = Status
NEXT_STEP = {
    S.DRAFT: "The requester completes and submits it.",
    S.SUBMITTED: "Platform screens its models against the current catalog.",
    S.SCREENING: "Engineering runs the smoke tests for each allowed action.",
    S.TESTING: "Operations saves the test evidence.",
    S.EVIDENCE: "Platform sends it to the three sign-offs.",
    S.IN_REVIEW: "Security, finance and the app owner sign.",
    S.CHANGES_REQUESTED: "The requester edits it and submits again.",
    S.REJECTED: "The requester reworks it and submits again, or leaves it.",
}


@require_GET
@org_view(scope="approvals:read")
def request_list(request):
    """Org's requests (rows not yet in force), or with ?mine=1 only the actor's, 50 per
    page, each with its status and next step."""
    mine = request.GET.get("mine") == "1"
    rows = selectors.request_list(org=request.org, actor=request.membership if mine else None)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    items = [(row, NEXT_STEP.get(row.status, "")) for row in page.object_list]
    return render(request, "approvals/request_list.html", {
        "page": page, "items": items, "mine": mine,
        "can_request": can_request(request.membership)})


def _form_page(request, form, row=None):
    """Save (draft, or save and submit) a valid posted form; else show the form."""
    if request.method == "POST" and form.is_valid():
        submit = "submit" in request.POST
        saved = form.save(actor=request.membership, submit=submit)
        if saved is not None:
            url = reverse("approvals:row_detail", args=[request.org.slug, saved.public_id])
            return done(request, url, f"Request submitted (version {saved.version})."
                        if submit else f"Draft saved (version {saved.version}).")
    return render(request, TEMPLATE, {"form": form, "row": row},
                  status=400 if form.errors else 200)


@org_view(scope="approvals:request")
def request_create(request):
    """A requester files a new row: saved as a draft, or saved and submitted."""
    return _form_page(request, RowRequestForm(request.POST or None, org=request.org))


@org_view(scope="approvals:read")
def request_edit(request, public_id):
    """The requester, app owner or an admin edits a row while it is with the requester."""
    row = selectors.row_get(org=request.org, public_id=public_id)
    if not can_edit(request.membership, row):
        raise PermissionDenied("Only the requester, the app owner or an admin edits this row.")
    if row.status not in EDITABLE:
        raise PermissionDenied(f"A row that is {row.get_status_display().lower()} cannot "
                               "be edited; it must be sent back first.")
    form = RowRequestForm(request.POST or None, org=request.org, row=row)
    return _form_page(request, form, row)


@require_POST
@org_view(scope="approvals:request")
def request_validate(request):
    """htmx: validate the posted form without saving and return one field's fragment
    (for project, environment and caller: the choices they narrow, see forms.NARROWS).
    422 when the field has an error."""
    name = request.POST.get("_field", "")
    if name not in RowRequestForm.base_fields:
        return HttpResponseBadRequest("Unknown field.")
    row_id = request.POST.get("_row")
    row = selectors.row_get(org=request.org, public_id=row_id) if row_id else None
    form = RowRequestForm(request.POST, org=request.org, row=row)
    form.check(only=name)
    context = {"form": form, "row": row, "only": name, "field": form[name],
               "who_fields": [form[n] for n in SECTIONS[0][2]]}
    failed = bool(form.errors.get(name))
    return render(request, f"{TEMPLATE}#{NARROWS.get(name, 'field')}", context,
                  status=422 if failed else 200)


@require_GET
@org_view(scope="approvals:read")
def model_search(request):
    """htmx: up to 25 entries of the current catalog matching ?q=, for the model picker
    (one query after the org resolve)."""
    q = request.GET.get("q", "").strip()[:100]
    entries = list(selectors.catalog_current_entries(org=request.org, q=q)[:MODEL_RESULTS])
    return render(request, TEMPLATE + "#model_results", {
        "entries": entries, "q": q, "limit": MODEL_RESULTS})
