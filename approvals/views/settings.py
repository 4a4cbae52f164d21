"""The org's approval settings page: every member reads them (approvals:read); org admins
and owners change them (permissions.can_edit_approval_settings, 403 otherwise)."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import render
from django.urls import reverse

from approvals import selectors, services
from approvals.catalog_triggers import catalog_renewal_labels
from approvals.permissions import can_edit_approval_settings
from approvals.renewal_forms import ApprovalSettingsForm, add_service_error
from orgs.decorators import org_view
from orgs.views import done


@org_view(scope="approvals:read")
def approval_settings(request):
    """Renewal limit, reminder days, expiry grace, decision log and catalog-change rules
    of the org."""
    editable = can_edit_approval_settings(request.membership)
    if request.method == "POST" and not editable:
        raise PermissionDenied("Only admins and owners change the approval settings.")
    current = selectors.approval_settings_get(org=request.org)
    form = ApprovalSettingsForm(request.POST or None,
                                initial=ApprovalSettingsForm.initial_for(current))
    if request.method == "POST" and form.is_valid():
        try:
            services.approval_settings_update(org=request.org, actor=request.membership,
                                              **form.cleaned_data)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return done(request, reverse("approvals:settings", args=[request.org.slug]),
                        "Approval settings saved.")
    context = {"form": form, "editable": editable, "settings": current,
               "catalog_renewal_labels": catalog_renewal_labels(current)}
    return render(request, "approvals/settings.html", context,
                  status=400 if form.errors else 200)
