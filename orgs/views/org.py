"""One org's dashboard, its settings, and the sections that are not built yet."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse

from orgs import selectors, services
from orgs.decorators import org_view
from orgs.forms import OrgSettingsForm, add_service_error
from orgs.permissions import can_edit_org, can_manage_members
from orgs.views import done

RECENT_EVENTS = 8

# Placeholder sections: (title, what it will do, where it sits in the workflow).
SECTIONS = {
    "catalog": (
        "Model catalog",
        "Dated snapshots of the provider or gateway catalog: models, endpoint families, "
        "availability, prices, context windows and deprecation dates, with diffs between "
        "snapshots that raise renewal triggers on affected rows.",
        "screen",
    ),
    "keys": (
        "Keys and workload identities",
        "Team API keys bound to exactly one project, environment and caller (secret shown "
        "once, prefix, expiry, rotation, revocation, last use), and workload identity "
        "mappings that let a CI job exchange its own OIDC token for a short-lived credential.",
        "test → monitor",
    ),
}


@org_view()
def dashboard(request):
    actor = request.membership
    context = selectors.org_summary(org=request.org, actor=actor, recent=RECENT_EVENTS)
    context.update(can_invite=can_manage_members(actor),
                   can_create_project=actor.has_scope("projects:create"),
                   can_edit_org=can_edit_org(actor))
    return render(request, "orgs/org_dashboard.html", context)


@org_view()
def org_settings(request):
    """Everyone reads the settings; changing them needs org:write (403 otherwise)."""
    editable = can_edit_org(request.membership)
    if request.method == "POST" and not editable:
        raise PermissionDenied("Your role cannot change the organization's settings.")
    form = OrgSettingsForm(request.POST or None, org=request.org,
                           initial=OrgSettingsForm.initial_for(request.org))
    if request.method == "POST" and form.is_valid():
        try:
            services.org_update(org=request.org, actor=request.membership, **form.cleaned_data)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return done(request, reverse("orgs:org_settings", args=[request.org.slug]),
                        "Settings saved.")
    return render(request, "orgs/org_settings.html", {"form": form, "editable": editable},
                  status=400 if form.errors else 200)


@org_view()
def section_placeholder(request, section):
    if section not in SECTIONS:
        raise Http404("No such section")
    title, description, stage = SECTIONS[section]
    context = {"title": title, "description": description, "stage": stage}
    return render(request, "orgs/section_placeholder.html", context)
