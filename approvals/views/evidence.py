"""Evidence on a row's page: attach an item (multipart POST), review one (POST), download a
file (GET, org-scoped, as an attachment). htmx posts re-render the section
(templates/approvals/_row_evidence.html) on bad input; success sends HX-Location."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from approvals import selectors
from approvals.checklist import row_checklist, row_evidence_context, row_evidence_get
from approvals.evidence_forms import EvidenceAttachForm, EvidenceReviewForm
from approvals.permissions import can_attach_evidence
from approvals.services.evidence import row_evidence_collect
from evidence.items import evidence_item_review
from evidence.permissions import can_review_evidence
from orgs.decorators import org_view
from orgs.forms import add_service_error
from orgs.views import done, wants_partial


def _row_url(request, row):
    return reverse("approvals:row_detail", args=[request.org.slug, row.public_id])


def _section(request, row, *, form=None, review_form=None, status=400):
    """The evidence section with the form's errors: the fragment for htmx, else a page."""
    context = row_evidence_context(row=row, actor=request.membership, form=form)
    context["review_form"] = review_form
    template = ("approvals/_row_evidence.html" if wants_partial(request)
                else "approvals/row_evidence_page.html")
    return render(request, template, context, status=status)


@require_POST
@org_view(scope="evidence:read")
def row_evidence_attach(request, public_id):
    """Collect one item (file, URL or JSON) and attach it to the row."""
    row = selectors.row_get(org=request.org, public_id=public_id)
    if not can_attach_evidence(request.membership, row):
        raise PermissionDenied("Only the row's owners, its requester or platform attach "
                               "evidence, and not to a revoked or expired row.")
    form = EvidenceAttachForm(request.POST, request.FILES, items=row_checklist(row).items,
                              actions=row.allowed_actions)
    if form.is_valid():
        try:
            row_evidence_collect(org=request.org, actor=request.membership, row=row,
                                 **form.item_fields())
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return done(request, _row_url(request, row), "Evidence attached.")
    return _section(request, row, form=form)


@require_POST
@org_view(scope="evidence:read")
def row_evidence_review(request, public_id, item_id):
    """Accept or reject one item attached to the row (never your own)."""
    row = selectors.row_get(org=request.org, public_id=public_id)
    link = row_evidence_get(org=request.org, row=row, item_id=item_id)
    if not can_review_evidence(request.membership, link.item):
        raise PermissionDenied("Only platform, security or finance review evidence, and "
                               "never evidence they collected.")
    form = EvidenceReviewForm(request.POST)
    if form.is_valid():
        try:
            evidence_item_review(org=request.org, actor=request.membership, item=link.item,
                                 **form.cleaned_data)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return done(request, _row_url(request, row), "Review recorded.")
    return _section(request, row, review_form=form)


@require_GET
@org_view(scope="evidence:read")
def evidence_download(request, public_id, item_id):
    """The item's file, as an attachment that the browser never renders inline."""
    row = selectors.row_get(org=request.org, public_id=public_id)
    item = row_evidence_get(org=request.org, row=row, item_id=item_id).item
    if not item.file:
        raise Http404("This evidence item has no file")
    response = FileResponse(item.file.open("rb"), as_attachment=True,
                            filename=item.file_name or item.file.name.rsplit("/", 1)[-1],
                            content_type=item.content_type or "application/octet-stream")
    # Uploaded HTML or SVG must never run in our origin: no sniffing, no inline render.
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, no-store"
    return response
