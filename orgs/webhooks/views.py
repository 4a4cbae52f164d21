"""Webhook pages under /o/<org>/settings/webhooks/ (org admins and owners)."""

from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from orgs.decorators import org_view
from orgs.forms import add_service_error
from orgs.views import done
from orgs.webhooks import selectors, services
from orgs.webhooks.forms import EndpointForm


def _detail(request, endpoint, *, secret=None, form=None, status=200):
    context = {"endpoint": endpoint, "secret": secret,
               "form": form or EndpointForm(initial={
                   "url": endpoint.url, "description": endpoint.description,
                   "event_types": endpoint.event_types}),
               "deliveries": selectors.delivery_list(org=request.org, endpoint=endpoint)}
    return render(request, "orgs/webhook_detail.html", context, status=status)


def _url(request, endpoint=None):
    if endpoint is None:
        return reverse("webhooks:endpoint_list", args=[request.org.slug])
    return reverse("webhooks:endpoint_detail", args=[request.org.slug, endpoint.public_id])


@never_cache  # the answer to a create carries the secret
@org_view(scope="org:write")
def endpoint_list(request):
    """List endpoints; POST adds one and shows its secret in this response only."""
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint, secret = services.endpoint_create(org=request.org, actor=request.membership,
                                                        **form.cleaned_data)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return _detail(request, endpoint, secret=secret, status=201)
    context = {"form": form, "endpoints": selectors.endpoint_list(org=request.org)}
    return render(request, "orgs/webhook_list.html", context, status=400 if form.errors else 200)


@org_view(scope="org:write")
def endpoint_detail(request, public_id):
    """The endpoint, its settings form (POST saves) and the delivery log."""
    endpoint = selectors.endpoint_get(org=request.org, public_id=public_id)
    form = EndpointForm(request.POST) if request.method == "POST" else None
    if form is not None and form.is_valid():
        try:
            services.endpoint_update(org=request.org, actor=request.membership,
                                     endpoint=endpoint, **form.cleaned_data)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return done(request, _url(request, endpoint), "Endpoint saved.")
    return _detail(request, endpoint, form=form, status=400 if form and form.errors else 200)


@never_cache
@require_POST
@org_view(scope="org:write")
def endpoint_rotate(request, public_id):
    endpoint = selectors.endpoint_get(org=request.org, public_id=public_id)
    secret = services.endpoint_rotate_secret(org=request.org, actor=request.membership,
                                             endpoint=endpoint)
    return _detail(request, endpoint, secret=secret)


@require_POST
@org_view(scope="org:write")
def endpoint_toggle(request, public_id):
    endpoint = selectors.endpoint_get(org=request.org, public_id=public_id)
    enable = not endpoint.enabled
    services.endpoint_set_enabled(org=request.org, actor=request.membership, endpoint=endpoint,
                                  enabled=enable, reason="turned off by an admin")
    return done(request, _url(request, endpoint),
                "Endpoint enabled." if enable else "Endpoint disabled. Nothing is sent to it.")


@require_POST
@org_view(scope="org:write")
def endpoint_delete(request, public_id):
    endpoint = selectors.endpoint_get(org=request.org, public_id=public_id)
    services.endpoint_delete(org=request.org, actor=request.membership, endpoint=endpoint)
    return done(request, _url(request), f"Endpoint {endpoint.url} deleted.")


@require_POST
@org_view(scope="org:write")
def endpoint_test(request, public_id):
    endpoint = selectors.endpoint_get(org=request.org, public_id=public_id)
    services.endpoint_send_test(org=request.org, actor=request.membership, endpoint=endpoint)
    return done(request, _url(request, endpoint),
                "Test event queued. Its delivery appears below within seconds.")


@require_POST
@org_view(scope="org:write")
def delivery_redeliver(request, public_id, delivery_id):
    endpoint = selectors.endpoint_get(org=request.org, public_id=public_id)
    delivery = selectors.delivery_get(org=request.org, endpoint=endpoint, public_id=delivery_id)
    services.delivery_redeliver(org=request.org, actor=request.membership, delivery=delivery)
    return done(request, _url(request, endpoint), "Delivery queued again.")
