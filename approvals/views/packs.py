"""Evidence packs and audit extracts: request a pack (row page, project page), watch it
build (htmx polls the progress partial), download it, list recent packs; collect an
audit extract of a row. The services decide who may (approvals/packs/permissions.py)."""

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from approvals import selectors
from approvals.packs import selectors as pack_selectors
from approvals.packs.archive import subject_label
from approvals.packs.build import pack_request
from approvals.packs.extract import row_audit_extract_collect
from approvals.packs.permissions import can_export_project_pack, can_export_row_pack
from orgs.decorators import org_view
from orgs.views import done, wants_partial
from projects.selectors import project_get


class PackSubjectForm(forms.Form):
    """?row=<uuid> or ?project=<uuid> (GET), or the same fields posted."""

    row = forms.UUIDField(required=False)
    project = forms.UUIDField(required=False)

    def clean(self):
        data = super().clean()
        if bool(data.get("row")) == bool(data.get("project")):
            raise ValidationError("Choose one row or one project to export.")
        return data


def _subject(request, data) -> tuple:
    """(row, project) of the request's org, one of them None; 404 when foreign."""
    if data.get("row"):
        return selectors.row_get(org=request.org, public_id=data["row"]), None
    return None, project_get(org=request.org, public_id=data["project"])


def _may_export(actor, row, project) -> bool:
    return can_export_row_pack(actor, row) if row else can_export_project_pack(actor, project)


@org_view(scope="approvals:read")
def pack_create(request):
    """GET: what the pack of ?row= or ?project= will hold, and the button; POST: request
    it and go to its progress page."""
    form = PackSubjectForm(request.POST if request.method == "POST" else request.GET)
    if not form.is_valid():
        raise Http404("Choose one row or one project to export.")
    row, project = _subject(request, form.cleaned_data)
    if request.method == "POST":
        pack = pack_request(org=request.org, actor=request.membership, row=row,
                            project=project)
        return done(request, reverse("approvals:pack_detail",
                                     args=[request.org.slug, pack.public_id]),
                    "Evidence pack requested; it builds in the background.")
    if not _may_export(request.membership, row, project):
        raise PermissionDenied("Only auditors, security reviewers, admins and the row's "
                               "evidence owner export evidence packs.")
    return render(request, "approvals/pack_new.html", {"row": row, "project": project,
                                                       "can_export": True, "primary": True})


@require_GET
@org_view(scope="approvals:read")
def pack_button(request):
    """The project page's "Export evidence pack" button (htmx fragment; empty for those
    who may not export). The projects app cannot import approvals, so it loads this."""
    form = PackSubjectForm(request.GET)
    if not form.is_valid() or not form.cleaned_data.get("project"):
        raise Http404("Name the project.")
    _row, project = _subject(request, form.cleaned_data)
    allowed = can_export_project_pack(request.membership, project)
    return render(request, "approvals/pack_new.html#button",
                  {"project": project, "can_export": allowed, "primary": False})


@org_view(scope="approvals:read")
def pack_list(request):
    """Recent packs this person may download."""
    packs = pack_selectors.pack_list(org=request.org, actor=request.membership)
    return render(request, "approvals/pack_list.html", {"packs": packs})


@org_view(scope="approvals:read")
def pack_detail(request, public_id):
    """A pack's progress (htmx polls the partial every second until done) and download."""
    pack = pack_selectors.pack_get(org=request.org, actor=request.membership,
                                   public_id=public_id)
    template = "approvals/pack_detail.html" + ("#progress" if wants_partial(request) else "")
    return render(request, template, {"pack": pack, "subject": subject_label(pack)})


@require_GET
@org_view(scope="approvals:read")
def pack_download(request, public_id):
    """The pack's ZIP as an attachment (auditors, security, admins, its requester)."""
    pack = pack_selectors.pack_get(org=request.org, actor=request.membership,
                                   public_id=public_id)
    if pack.status != pack.Status.SUCCEEDED or not pack.file:
        raise Http404("This evidence pack is not ready.")
    name = f"evidence-pack-{request.org.slug}-{pack.created_at:%Y%m%d}-{pack.public_id}.zip"
    response = FileResponse(pack.file.open("rb"), as_attachment=True, filename=name,
                            content_type="application/zip")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@require_POST
@org_view(scope="approvals:read")
def row_audit_extract(request, public_id):
    """Collect an audit extract of the row now (evidence owner, security, admins)."""
    row = selectors.row_get(org=request.org, public_id=public_id)
    item = row_audit_extract_collect(org=request.org, actor=request.membership, row=row)
    return done(request, reverse("approvals:row_detail", args=[request.org.slug,
                                                                row.public_id]),
                f"{item.title}: collected and attached.")
