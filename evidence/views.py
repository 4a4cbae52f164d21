"""HTML views of the model catalog: browse, model history, snapshots, import, diff.

Reading needs catalog:read (every org role); importing needs catalog:write (admins and
owners). A view validates one form and calls one selector or service.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse

from evidence import catalog, refresh, selectors
from evidence.diff import Change, catalog_diff
from evidence.families import ACTIONS_BY_FAMILY, Family, actions_for
from evidence.forms import CatalogFilterForm, DiffForm, ImportForm, RefreshForm
from orgs.decorators import org_view
from orgs.forms import add_service_error
from orgs.views import done

PAGE_SIZE = 50


@org_view(scope="catalog:read")
def catalog_list(request):
    """One snapshot's entries with search, filters, sorting and pages: 3 queries beyond
    the session (snapshots, count, page), whatever the page size."""
    form = CatalogFilterForm(request.GET or None, org=request.org)
    snapshots = list(form.fields["snapshot"].queryset)
    valid = form.is_valid() if form.is_bound else True
    data = form.cleaned_data if form.is_bound and valid else {}
    snapshot = data.get("snapshot") or (snapshots[0] if snapshots else None)
    form.set_platforms(snapshot)
    page = None
    if snapshot is not None and valid:
        entries = selectors.entry_search(org=request.org, snapshot=snapshot,
                                         **(form.filters() if data else {}))
        page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "snapshot": snapshot, "snapshots": snapshots, "page": page,
               "query": query.urlencode(),
               "can_import": request.membership.has_scope("catalog:write")}
    return render(request, "evidence/catalog_list.html", context, status=200 if valid else 400)


@org_view(scope="catalog:read")
def model_detail(request, public_id):
    """One model (platform, model id, region) in every snapshot: price, context and
    availability history, and the actions its families can serve."""
    entry = selectors.entry_get(org=request.org, public_id=public_id)
    history = list(selectors.model_history(org=request.org, entry=entry))
    context = {"entry": entry, "history": history,
               "actions": sorted(actions_for(entry.family_list)),
               "families": [Family(f).label for f in entry.family_list]}
    return render(request, "evidence/model_detail.html", context)


@org_view(scope="catalog:read")
def snapshot_list(request):
    context = {"snapshots": selectors.snapshot_list(org=request.org),
               "jobs": selectors.import_job_list(org=request.org)[:10],
               "can_import": request.membership.has_scope("catalog:write")}
    return render(request, "evidence/snapshot_list.html", context)


@org_view(scope="catalog:read")
def snapshot_detail(request, public_id):
    snapshot = selectors.snapshot_get(org=request.org, public_id=public_id)
    counts = {name: sorted(snapshot.counts.get(name, {}).items(), key=lambda kv: -kv[1])
              for name in ("family", "platform")}
    others = [s for s in selectors.snapshot_list(org=request.org)
              if s.source_name == snapshot.source_name and s.pk != snapshot.pk]
    context = {"snapshot": snapshot, "counts": counts, "others": others,
               "family_labels": dict(Family.choices)}
    return render(request, "evidence/snapshot_detail.html", context)


@org_view(scope="catalog:write")
def snapshot_import(request):
    """The upload/URL form; a valid POST queues an import job and shows its progress."""
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            job = catalog.import_job_create(
                org=request.org, actor=request.membership, format=data["format"],
                source_name=data["source_name"], upload=data["file"], url=data["url"],
                snapshot_date=data["snapshot_date"])
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return redirect(reverse("evidence:import_job", args=[request.org.slug, job.public_id]))
    context = {"form": form, "actions_by_family": _family_table()}
    return render(request, "evidence/snapshot_import.html", context,
                  status=400 if form.errors else 200)


@org_view(scope="catalog:read")
def catalog_refresh(request):
    """The daily catalog refresh: every member sees it and its last run; admins and owners
    (catalog:write) set it (403 for others' POSTs)."""
    editable = request.membership.has_scope("catalog:write")
    if request.method == "POST" and not editable:
        raise PermissionDenied("Only admins and owners configure the catalog refresh.")
    current = refresh.catalog_refresh_get(org=request.org)
    form = RefreshForm(request.POST or None, initial={
        "url": current.url, "format": current.format, "source_name": current.source_name})
    if request.method == "POST" and form.is_valid():
        try:
            refresh.catalog_refresh_update(org=request.org, actor=request.membership,
                                           **form.cleaned_data)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return done(request, reverse("evidence:catalog_refresh", args=[request.org.slug]),
                        "Catalog refresh saved.")
    context = {"form": form, "refresh": current, "editable": editable, "can_import": editable}
    return render(request, "evidence/catalog_refresh.html", context,
                  status=400 if form.errors else 200)


def _family_table():
    return [(Family(f).label, sorted(actions)) for f, actions in ACTIONS_BY_FAMILY.items()]


@org_view(scope="catalog:read")
def import_job(request, public_id):
    """An import's progress; htmx polls the progress partial every second until done."""
    job = selectors.import_job_get(org=request.org, public_id=public_id)
    template = "evidence/import_job.html"
    if request.htmx and not request.htmx.boosted:
        template += "#progress"
    return render(request, template, {"job": job})


def _grouped_rows(result, by: str) -> list[tuple[str, list[int]]]:
    return [(name, [row.get(kind, 0) for kind in Change.ALL])
            for name, row in result.grouped(by).items()]


@org_view(scope="catalog:read")
def snapshot_diff(request):
    """Pick two snapshots; show counts by change, platform and family, and the changes."""
    form = DiffForm(request.GET or None, org=request.org)
    context = {"form": form, "labels": Change.LABELS}
    if form.is_bound and form.is_valid():
        try:
            result = catalog_diff(org=request.org, old=form.cleaned_data["old"],
                                  new=form.cleaned_data["new"])
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            kind = request.GET.get("change", "")
            changes = [c for c in result.plain_changes() if not kind or c["change"] == kind]
            query = request.GET.copy()
            query.pop("page", None)
            context.update(result=result, kind=kind, query=query.urlencode(),
                           page=Paginator(changes, 100).get_page(request.GET.get("page")),
                           by_platform=_grouped_rows(result, "platform")[:25],
                           by_family=_grouped_rows(result, "family"),
                           kinds=[Change.LABELS[k] for k in Change.ALL])
    return render(request, "evidence/snapshot_diff.html", context,
                  status=400 if form.errors else 200)
