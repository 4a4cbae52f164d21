"""The org's gateway settings page (/o/<org>/settings/gateway/): every member reads the
base URL and timeout (evidence:read); org admins and owners change them and replace the
key (403 otherwise). The key is never rendered, not even masked."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import render
from django.urls import reverse

from evidence.gateway import can_configure_gateway, gateway_config_get, gateway_config_update
from evidence.gateway_forms import GatewayConfigForm
from orgs.decorators import org_view
from orgs.forms import add_service_error
from orgs.views import done


@org_view(scope="evidence:read")
def gateway_settings(request):
    """Show the gateway settings; admins save them through gateway_config_update."""
    editable = can_configure_gateway(request.membership)
    if request.method == "POST" and not editable:
        raise PermissionDenied("Only org admins and owners configure the gateway.")
    config = gateway_config_get(org=request.org)
    form = GatewayConfigForm(request.POST or None, config=config)
    if request.method == "POST" and form.is_valid():
        try:
            gateway_config_update(org=request.org, actor=request.membership, **form.cleaned_data)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return done(request, reverse("evidence:gateway_settings", args=[request.org.slug]),
                        "Gateway settings saved.")
    context = {"form": form, "editable": editable, "config": config}
    return render(request, "evidence/gateway_settings.html", context,
                  status=400 if form.errors else 200)
