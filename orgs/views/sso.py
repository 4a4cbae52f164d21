"""SSO pages: the org's connections and verified domains (admins), its security policy
(everyone reads, admins edit), and the public "Continue with SSO" entry points."""

import requests
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from orgs import services
from orgs.decorators import org_view
from orgs.forms import add_service_error
from orgs.permissions import can_edit_org
from orgs.sso import login as sso_login
from orgs.sso import selectors
from orgs.sso import services as sso
from orgs.sso.forms import DomainForm, SecurityPolicyForm, SSOConnectionForm, SSOStartForm
from orgs.sso.models import SSOConnection
from orgs.views import done


def _sso_url(org):
    return reverse("orgs:sso_settings", args=[org.slug])


@org_view("org:write")
def sso_settings(request):
    org = request.org
    context = {"connections": selectors.connection_list(org=org),
               "domains": selectors.domain_list(org=org), "domain_form": DomainForm(),
               "direct_url": request.build_absolute_uri(reverse("orgs:sso_org", args=[org.slug]))}
    return render(request, "orgs/sso_settings.html", context)


@org_view("org:write")
def connection_create(request, kind):
    if kind not in SSOConnection.Kind.values:
        raise Http404("No such kind of connection")
    form = SSOConnectionForm(request.POST or None, kind=kind,
                             initial={"provider_id": f"{request.org.slug}-{kind}"})
    if request.method == "POST" and form.is_valid():
        try:
            conn = sso.sso_connection_create(
                org=request.org, actor=request.membership, kind=kind,
                client_secret=form.cleaned_data.get("client_secret", ""), **form.service_fields())
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return done(request, reverse("orgs:sso_connection", args=[request.org.slug,
                                                                       conn.public_id]),
                        f"Connection “{conn.name}” saved.")
    return render(request, "orgs/sso_connection_form.html",
                  {"form": form, "kind": SSOConnection.Kind(kind)},
                  status=400 if form.errors else 200)


@org_view("org:write")
def connection_detail(request, public_id):
    conn = selectors.connection_get(org=request.org, public_id=public_id)
    form = SSOConnectionForm(request.POST or None, kind=conn.kind, connection=conn,
                             initial=SSOConnectionForm.initial_for(conn))
    if request.method == "POST" and form.is_valid():
        try:
            conn = sso.sso_connection_update(
                org=request.org, actor=request.membership, connection=conn,
                client_secret=form.cleaned_data.get("client_secret", ""), **form.service_fields())
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return done(request, request.path, f"Connection “{conn.name}” saved.")
    context = {"form": form, "connection": conn, "kind": SSOConnection.Kind(conn.kind),
               "urls": selectors.connection_urls(request, conn)}
    return render(request, "orgs/sso_connection_form.html", context,
                  status=400 if form.errors else 200)


@require_POST
@org_view("org:write")
def connection_delete(request, public_id):
    conn = selectors.connection_get(org=request.org, public_id=public_id)
    sso.sso_connection_delete(org=request.org, actor=request.membership, connection=conn)
    return done(request, _sso_url(request.org), f"Connection “{conn.name}” removed.")


@require_POST
@org_view("org:write")
def domain_add(request):
    form = DomainForm(request.POST)
    if form.is_valid():
        try:
            row = sso.domain_add(org=request.org, actor=request.membership,
                                 domain=form.cleaned_data["domain"])
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            return done(request, _sso_url(request.org), f"{row.domain} added. Publish its "
                        "TXT record, then verify it.")
    for errors in form.errors.values():
        messages.error(request, " ".join(errors))
    return _back(request)


def _back(request):
    return redirect(_sso_url(request.org))


@require_POST
@org_view("org:write")
def domain_verify(request, public_id):
    row = selectors.domain_get(org=request.org, public_id=public_id)
    try:
        row = sso.domain_verify_dns(org=request.org, actor=request.membership, domain=row)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return _back(request)
    return done(request, _sso_url(request.org), f"{row.domain} is verified.")


@require_POST
@org_view("org:write")
def domain_remove(request, public_id):
    row = selectors.domain_get(org=request.org, public_id=public_id)
    sso.domain_remove(org=request.org, actor=request.membership, domain=row)
    return done(request, _sso_url(request.org), f"{row.domain} removed.")


@org_view()
def security_policy(request):
    """Everyone reads the policy; changing it needs org:write (403 otherwise)."""
    editable = can_edit_org(request.membership)
    if request.method == "POST" and not editable:
        raise PermissionDenied("Your role cannot change the security policy.")
    policy = services.security_policy_get(org=request.org)
    form = SecurityPolicyForm(request.POST or None, instance=policy)
    if request.method == "POST" and form.is_valid():
        try:
            services.security_policy_update(org=request.org, actor=request.membership,
                                            **form.cleaned_data)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return done(request, request.path, "Security policy saved.")
    return render(request, "orgs/security_policy.html",
                  {"form": form, "editable": editable, "policy": policy},
                  status=400 if form.errors else 200)


def sso_start(request):
    """Continue with SSO: the email's verified domain picks the org and its IdP."""
    form = SSOStartForm(request.POST or None, initial={"email": request.GET.get("email", "")})
    if request.method == "POST" and form.is_valid():
        org = sso.verified_domain_org(form.cleaned_data["email"])
        if org is None:
            form.add_error("email", "No organization has set up single sign-on for this "
                                    "email domain. Sign in with your password instead.")
        else:
            return _start_for_org(request, org)
    return render(request, "orgs/sso_start.html", {"form": form},
                  status=400 if form.errors else 200)


def sso_org(request, slug):
    """The direct SSO link of one org: /sso/<slug>/ (GET shows, POST goes to the IdP)."""
    conns = selectors.enabled_connections_for_slug(slug)
    if not conns:
        raise Http404("No SSO here")
    if request.method == "POST":
        return _start_for_org(request, conns[0].org)
    return render(request, "orgs/sso_start.html", {"org": conns[0].org, "connections": conns})


@login_required
def sso_link(request, slug):
    """/sso/<slug>/link/: a signed-in person links their existing account to the org's
    SSO. POST goes to the IdP with allauth's connect flow, which asks for the password
    again before it links (SOCIALACCOUNT_REAUTHENTICATION_REQUIRED); the IdP alone never
    links an account of another org (orgs.sso.services.sso_login_check)."""
    conns = selectors.enabled_connections_for_slug(slug)
    if not conns:
        raise Http404("No SSO here")
    conn = next((c for c in conns if str(c.public_id) == request.POST.get("connection")),
                conns[0] if len(conns) == 1 else None)
    if request.method == "POST" and conn is not None:
        next_url = reverse("orgs:dashboard", args=[slug])
        try:
            return sso_login.start(request, conn, next_url, process="connect")
        except (requests.RequestException, KeyError, ValueError) as exc:
            return _start_failed(request, conn, exc)
    return render(request, "orgs/sso_link.html", {"org": conns[0].org, "connections": conns})


def _start_failed(request, conn, exc):
    sso_login.record_failure(conn, f"start: {type(exc).__name__}: {exc}"[:500])
    message, _ = sso_login.explain_error(conn, None, exc, {})
    return render(request, "orgs/sso_error.html",
                  {"message": message, "connection": conn, "org": conn.org}, status=400)


def _start_for_org(request, org):
    conns = selectors.enabled_connections_for_slug(org.slug)
    chosen = request.POST.get("connection")
    conn = next((c for c in conns if str(c.public_id) == chosen), None)
    if conn is None and len(conns) == 1:
        conn = conns[0]
    if conn is None:
        return render(request, "orgs/sso_start.html", {"org": org, "connections": conns},
                      status=200 if conns else 400)
    next_url = reverse("orgs:dashboard", args=[org.slug])
    try:
        return sso_login.start(request, conn, next_url)
    except (requests.RequestException, KeyError, ValueError) as exc:  # IdP down or broken
        return _start_failed(request, conn, exc)
