"""Walk every URL pattern that takes an org slug or an object id (pages and API) and
prove, route by route, that the owner of org A reaches A's own object (so the route really
loads that model) and gets 404 for org B's object of the same model, and for org B's slug.

ROUTE_PARAMS maps each route parameter to the model it names; a route whose parameter is
not mapped fails test_every_route_parameter_is_mapped with the line to add. The objects
come from the model registry: every model with a `public_id` gets its org A and org B
instance from the database (tenant models through for_org, personal tokens through
their user), so a route is always filled with ids of the model it expects.
"""

import re
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.db import transaction
from django.http import HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, include, path
from django.utils import timezone

from approvals import api as approvals_api
from approvals.findings import finding_raise
from approvals.services import deny_rule_create
from approvals.views import rows as row_views
from orgs.audit import AuditEvent
from orgs.crypto import encrypt
from orgs.decorators import org_view
from orgs.events import event_emit
from orgs.roles import Role
from orgs.scoping import is_tenant_model
from orgs.services import invitation_create, personal_token_create
from tests.factories import CallerFactory, MembershipFactory, OrganizationFactory, ProjectFactory

pytestmark = pytest.mark.django_db

SKIP_PREFIXES = ("admin/", "accounts/")
PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")

ROW = {"public_id": "approvals.PolicyRow"}
PROJECT = {"public_id": "projects.Project"}
ENDPOINT = {"public_id": "orgs.WebhookEndpoint"}
FINDING = {"public_id": "approvals.Finding"}
KEY = {"public_id": "projects.ApiKey"}
DOMAIN = {"public_id": "orgs.VerifiedDomain"}
CONNECTION = {"public_id": "orgs.SSOConnection"}

# Which model each route parameter names: {url name: {parameter: "app_label.Model"}}.
# <org_slug> is the org itself and needs no entry. A new route with an id goes here (the
# failure message of test_every_route_parameter_is_mapped prints the line to add).
ROUTE_PARAMS = {
    # orgs: account, members, SSO, domains (pages)
    "orgs:token_revoke": {"public_id": "orgs.PersonalToken"},
    "orgs:sso_connection": CONNECTION,
    "orgs:sso_connection_delete": CONNECTION,
    "orgs:domain_verify": DOMAIN,
    "orgs:domain_remove": DOMAIN,
    "orgs:member_role": {"public_id": "orgs.Membership"},
    "orgs:member_remove": {"public_id": "orgs.Membership"},
    "orgs:invitation_revoke": {"public_id": "orgs.Invitation"},
    # orgs (API)
    "api_token_detail": {"public_id": "orgs.PersonalToken"},
    "api_member_detail": {"public_id": "orgs.Membership"},
    "api_invitation_detail": {"public_id": "orgs.Invitation"},
    "api_sso_connection_detail": CONNECTION,
    "api_domain_detail": DOMAIN,
    "api_domain_verify": DOMAIN,
    # webhooks (pages and API)
    "webhooks:endpoint_detail": ENDPOINT,
    "webhooks:endpoint_rotate": ENDPOINT,
    "webhooks:endpoint_toggle": ENDPOINT,
    "webhooks:endpoint_delete": ENDPOINT,
    "webhooks:endpoint_test": ENDPOINT,
    "webhooks:delivery_redeliver": {**ENDPOINT, "delivery_id": "orgs.WebhookDelivery"},
    "api_webhook_detail": ENDPOINT,
    "api_webhook_rotate": ENDPOINT,
    "api_webhook_test": ENDPOINT,
    "api_webhook_deliveries": ENDPOINT,
    "api_webhook_redeliver": {**ENDPOINT, "delivery_id": "orgs.WebhookDelivery"},
    # projects, callers, workload identities, keys (pages and API)
    "projects:project_detail": PROJECT,
    "projects:project_edit": PROJECT,
    "projects:environment_create": PROJECT,
    "projects:caller_create": PROJECT,
    "projects:caller_edit": {**PROJECT, "caller_id": "projects.Caller"},
    "projects:project_role_set": PROJECT,
    "projects:identity_list": PROJECT,
    "projects:identity_delete": {**PROJECT, "identity_id": "projects.WorkloadIdentity"},
    "projects:key_detail": KEY,
    "projects:key_rotate": KEY,
    "projects:key_revoke": KEY,
    "api_project_detail": PROJECT,
    "api_environment_list": PROJECT,
    "api_caller_list": PROJECT,
    "api_caller_detail": {**PROJECT, "caller_id": "projects.Caller"},
    "api_project_roles": PROJECT,
    "api_key_detail": KEY,
    "api_key_rotate": KEY,
    "api_key_revoke": KEY,
    "api_identity_list": PROJECT,
    "api_identity_detail": {**PROJECT, "identity_id": "projects.WorkloadIdentity"},
    # catalog and usage (pages and API)
    "evidence:model_detail": {"public_id": "evidence.CatalogEntry"},
    "evidence:snapshot_detail": {"public_id": "evidence.CatalogSnapshot"},
    "evidence:import_job": {"public_id": "evidence.ImportJob"},
    "evidence:usage_import": {"public_id": "evidence.UsageImport"},
    "api_snapshot_detail": {"public_id": "evidence.CatalogSnapshot"},
    "api_model_detail": {"public_id": "evidence.CatalogEntry"},
    "api_import_job": {"public_id": "evidence.ImportJob"},
    "api_usage_import": {"public_id": "evidence.UsageImport"},
    # approvals: rows, their evidence, smoke runs, packs, renewal, deny rules, findings
    "approvals:row_edit": ROW,
    "approvals:row_detail": ROW,
    **{f"approvals:row_{verb}": ROW for verb in row_views.MOVES},
    "approvals:row_sign": ROW,
    "approvals:row_reviewer_grant": ROW,
    "approvals:row_evidence_attach": ROW,
    "approvals:row_evidence_review": {**ROW, "item_id": "evidence.EvidenceItem"},
    "approvals:evidence_download": {**ROW, "item_id": "evidence.EvidenceItem"},
    "approvals:row_smoke_start": ROW,
    "approvals:smoke_run": {**ROW, "run_id": "approvals.SmokeRun"},
    "approvals:row_audit_extract": ROW,
    "approvals:pack_detail": {"public_id": "approvals.EvidencePack"},
    "approvals:pack_download": {"public_id": "approvals.EvidencePack"},
    "approvals:renewal_review": ROW,
    "approvals:renewal_start": ROW,
    "approvals:renewal_answer": ROW,
    "approvals:renewal_decide": ROW,
    "approvals:deny_rule_deactivate": {"public_id": "approvals.DenyRule"},
    "approvals:finding_detail": FINDING,
    "approvals:finding_acknowledge": FINDING,
    "approvals:finding_resolve": FINDING,
    "approvals:finding_assign": FINDING,
    "approvals:project_monitor": PROJECT,
    "api_row_detail": ROW,
    **{f"api_row_{verb}": ROW for verb in approvals_api.MOVES},
    "api_row_signoffs": ROW,
    "api_deny_rule_deactivate": {"public_id": "approvals.DenyRule"},
    "api_finding_acknowledge": FINDING,
    "api_finding_resolve": FINDING,
    "api_finding_assign": FINDING,
}

# Parameters that name no object: a fixed value that the route accepts.
LITERAL_PARAMS = {
    "orgs:sso_connection_create": {"kind": "oidc"},
}

# Routes with a parameter that the walker leaves alone, and why.
NOT_WALKED = {
    "orgs:invitation_accept": "the secret token in the link is the capability, and it names "
                              "its org; tests/orgs/test_services.py covers used, revoked and "
                              "expired links",
    "orgs:sso_org": "the public direct SSO link: every org's slug may open it, by design",
    "orgs:sso_link": "the public SSO account-link start: any signed-in person may ask to link "
                     "to any org by slug (tests/orgs/test_sso_services.py covers who may)",
}

# Query parameters that name objects, on routes that need them to answer at all.
QUERY_PARAMS = {
    "approvals:pack_create": {"row": "approvals.PolicyRow"},
    "approvals:pack_button": {"project": "projects.Project"},
    "api_catalog_diff": {"old": "evidence.CatalogSnapshot", "new": "evidence.CatalogSnapshot"},
}

# What the owner of A gets for A's own object on a route that only takes POST: the
# request names the object but carries no form data, so the answer is a re-rendered form
# (200), a redirect after the change (302), a refusal of the empty input (400) or of the
# move in this state (409). 404 would mean the route never loads the object.
POST_SUCCESS = {200, 201, 202, 204, 302, 400, 409}

# Routes where the owner's answer for their own object is something else, and why.
OWN_STATUS = {
    **{name: (403, "only security reviewers (approvals:suspend) suspend and resume; the row "
                   "is loaded (404 when foreign) before that check")
       for name in ("approvals:row_suspend", "approvals:row_resume", "api_row_suspend",
                    "api_row_resume")},
}

# A query parameter naming another org's object may also be refused as an invalid choice
# (400) by a form whose choices are the org's own objects.
QUERY_HIDDEN = {400, 404}


@dataclass
class Route:
    pattern: str
    name: str
    params: list = field(default_factory=list)  # [(converter, name)]

    def url(self, values: dict, query: dict | None = None) -> str:
        text = self.pattern
        for conv, pname in self.params:
            spec = f"<{conv}:{pname}>" if conv else f"<{pname}>"
            text = text.replace(spec, str(values[pname]))
        return "/" + text + ("?" + urlencode(query) if query else "")

    @property
    def is_api(self) -> bool:
        return self.pattern.startswith("api/")


def _walk(patterns, prefix="", namespace=""):
    for p in patterns:
        route = prefix + str(p.pattern)
        if isinstance(p, URLResolver):
            ns = ":".join(filter(None, [namespace, p.namespace]))
            yield from _walk(p.url_patterns, route, ns)
        elif isinstance(p, URLPattern):
            # An unnamed route keeps an empty name, so that unmapped() reports it.
            yield route, ":".join(filter(None, [namespace, p.name])) if p.name else ""


def tenant_routes(urlconf=None) -> list[Route]:
    """Every route with an org slug or any other parameter (allauth and the admin aside)."""
    routes = []
    for pattern, name in _walk(get_resolver(urlconf).url_patterns):
        if pattern.startswith(SKIP_PREFIXES) or pattern.startswith("^"):
            continue
        params = PARAM.findall(pattern)
        if params:
            routes.append(Route(pattern, name, params))
    return routes


def _missing(route: Route, table) -> list[tuple[str, str]]:
    known = {**table.get(route.name, {}), **LITERAL_PARAMS.get(route.name, {}), "org_slug": 0}
    return [(conv, pname) for conv, pname in route.params if pname not in known]


def unmapped(routes, table) -> list[str]:
    """The route parameters table does not map, each with the line to add."""
    unnamed = [f"{route.pattern}: the route has no name, so it cannot be mapped; name it "
               "(STYLE.md rule 16) and add it to ROUTE_PARAMS in tests/test_tenancy.py"
               for route in routes if not route.name]
    return unnamed + [f"{route.name} ({route.pattern}): parameter <{conv}:{pname}> is not "
            f"mapped; add to ROUTE_PARAMS in tests/test_tenancy.py:\n"
            f'    "{route.name}": {{"{pname}": "<app_label.Model>"}},'
            for route in routes if route.name and route.name not in NOT_WALKED
            for conv, pname in _missing(route, table)]


@dataclass
class Pool:
    """Org A's and org B's instance of every model with a public_id, from the registry."""
    own: dict
    foreign: dict
    own_slug: str
    foreign_slug: str

    def value(self, side: str, label: str):
        objects = self.own if side == "own" else self.foreign
        if label not in objects:
            raise LookupError(f"No {label} of org {side}: build one in build_world() in "
                              "tests/test_tenancy.py")
        return objects[label].public_id


def pool_from_registry(org_a, org_b, user_a, user_b) -> Pool:
    own, foreign = {}, {}
    for model in apps.get_models():
        if not any(f.name == "public_id" for f in model._meta.concrete_fields):
            continue
        for org, user, objects in ((org_a, user_a, own), (org_b, user_b, foreign)):
            if is_tenant_model(model):
                qs = model.objects.for_org(org)
            elif any(f.name == "user" for f in model._meta.concrete_fields):
                qs = model.objects.filter(user=user)  # owned by a person (personal tokens)
            else:
                continue
            first = qs.order_by("pk").first()
            if first is not None:
                objects[model._meta.label] = first
    return Pool(own, foreign, org_a.slug, org_b.slug)


def build_world(org, owner):
    """One object of each routed model in org, children under the same parents (the row's
    evidence item, run and pack are those of its row), written mostly straight to the
    database: the walker needs the objects, not the services' rules."""
    MembershipFactory(org=org, role=Role.MEMBER, user__email=f"member@{org.slug}.test")
    invitation_create(org=org, actor=owner, email=f"new@{org.slug}.test", role=Role.MEMBER)
    personal_token_create(user=owner.user, name=f"{org.slug} token")
    _build_settings(org)
    _build_catalog(org)
    _build_row(org, owner, *_build_project(org, owner))


def _build_settings(org):
    from orgs.sso.models import SSOConnection, VerifiedDomain
    from orgs.webhooks.models import WebhookDelivery, WebhookEndpoint

    SSOConnection.objects.create(org=org, kind="oidc", name="IdP", provider_id=f"{org.slug}-sso")
    VerifiedDomain.objects.create(org=org, domain=f"{org.slug}.test")
    endpoint = WebhookEndpoint.objects.create(org=org, url=f"https://hooks.{org.slug}.test/in",
                                              secret_encrypted=encrypt("whsec_walker"))
    event = event_emit(org=org, kind="webhook.test", subject=endpoint)
    WebhookDelivery.objects.create(org=org, endpoint=endpoint, event=event)


def _build_project(org, owner):
    from projects.keys import key_create
    from projects.models import WorkloadIdentity

    project = ProjectFactory(org=org, name=f"{org.slug} app", slug=f"{org.slug}-app")
    caller = CallerFactory(project=project, owner=owner, name=f"{org.slug}-api")
    env = project.environments.get(tier="production")
    key_create(org=org, actor=owner, project=project, environment=env, caller=caller,
               name="walker key")
    WorkloadIdentity.objects.create(
        org=org, project=project, environment=env, caller=caller, name="ci",
        issuer=f"https://issuer.{org.slug}.test", audience="governance", pattern="repo:x")
    return project, env, caller


def _build_catalog(org):
    from evidence.models import CatalogEntry, CatalogSnapshot, ImportJob, UsageImport

    snapshot = CatalogSnapshot.objects.create(
        org=org, source_name="litellm", format="litellm", source_ref="walker.json",
        sha256="a" * 64, snapshot_date=timezone.localdate())
    CatalogEntry.objects.create(
        org=org, snapshot=snapshot, key="openai/gpt-walker", platform="openai",
        vendor="openai", model_id="gpt-walker", family="chat_completions",
        families="|chat_completions|", availability="available")
    ImportJob.objects.create(org=org, format="litellm", source_name="litellm",
                             source_ref="walker.json")
    UsageImport.objects.create(org=org, kind="usage", source="api", source_ref="walker.csv")


def _build_row(org, owner, project, env, caller):
    from approvals.models import EvidencePack, PolicyRow, RowEvidence, SmokeRun
    from evidence.models import EvidenceItem

    row = PolicyRow.objects.create(
        org=org, project=project, caller=caller, business_reason="walker", environment=env,
        monthly_budget=1, renewal_date=timezone.localdate() + timedelta(days=30))
    item = EvidenceItem(org=org, kind=EvidenceItem.Kind.USAGE_ROW, title="usage",
                        sha256="0" * 64, collector_label="walker", file_name="u.txt",
                        content_type="text/plain")
    item.file.save("u.txt", ContentFile(b"usage"), save=False)
    item.save()
    RowEvidence.objects.create(org=org, row=row, item=item)
    SmokeRun.objects.create(org=org, row=row, row_version=1, started_by_label="walker")
    pack = EvidencePack(org=org, row=row, requested_by=owner,
                        status=EvidencePack.Status.SUCCEEDED)
    pack.file.save("pack.zip", ContentFile(b"PK\x05\x06" + b"\0" * 18), save=False)
    pack.save()
    deny_rule_create(org=org, actor=owner, reason="walker", owner=owner, action="chat")
    finding_raise(org=org, kind="unowned_calls", dedupe_key="walker", title="Walker", row=row)


@pytest.fixture
def world(db):
    org_a = OrganizationFactory(name="Acme", slug="acme")
    org_b = OrganizationFactory(name="Globex", slug="globex")
    owner_a = MembershipFactory(org=org_a, role=Role.OWNER, user__email="owner@acme.test")
    owner_b = MembershipFactory(org=org_b, role=Role.OWNER, user__email="owner@globex.test")
    build_world(org_a, owner_a)
    build_world(org_b, owner_b)
    return owner_a, pool_from_registry(org_a, org_b, owner_a.user, owner_b.user)


def _status(client, method, route: Route, url: str) -> int:
    # Each request runs in a savepoint rolled back afterwards: a POST that succeeds on the
    # own object (revoke, delete, rotate) leaves the next route the same world.
    kwargs = {"content_type": "application/json"} if route.is_api and method == "post" else {}
    with transaction.atomic():
        response = getattr(client, method)(url, {}, **kwargs)
        transaction.set_rollback(True)
    return response.status_code


def _own_problem(client, route: Route, url: str) -> str | None:
    """Why the owner of A does not reach A's own objects on this route, or None."""
    method, got = "GET", _status(client, "get", route, url)
    if got == 405:
        method, got = "POST", _status(client, "post", route, url)
    if route.name in OWN_STATUS:
        wanted, _why = OWN_STATUS[route.name]
        return None if got == wanted else f"{method} {url} answered {got}, not {wanted}"
    if method == "GET" and got != 200:
        return (f"GET {url} (org A's own objects) answered {got}, not 200: the route never "
                "reaches its object (a wrong model in ROUTE_PARAMS?)")
    if method == "POST" and got not in POST_SUCCESS:
        return (f"POST {url} (org A's own objects) answered {got}, not one of "
                f"{sorted(POST_SUCCESS)}: the route never reaches its object")
    return None


def _foreign_problems(client, route: Route, url: str, what: str, hidden) -> list[str]:
    events = AuditEvent.objects.count()
    statuses = {_status(client, "get", route, url), _status(client, "post", route, url)}
    problems = []
    if not (statuses <= hidden | {405} and statuses & hidden):
        problems.append(f"{url} ({what}) answered {sorted(statuses)}, not 404")
    if AuditEvent.objects.count() != events:
        problems.append(f"{url} ({what}) wrote an audit event")
    return problems


def check_route(client, route: Route, pool: Pool, table) -> list[str]:
    """What is wrong with one route: the owner of A cannot reach A's own object, or reaches
    org B's object (or anything under org B's slug) with anything but 404."""
    mapping = table.get(route.name, {})
    query_map = QUERY_PARAMS.get(route.name, {})
    own = {**LITERAL_PARAMS.get(route.name, {}), "org_slug": pool.own_slug,
           **{p: pool.value("own", label) for p, label in mapping.items()}}
    query = {p: pool.value("own", label) for p, label in query_map.items()}
    problems = [p for p in [_own_problem(client, route, route.url(own, query))] if p]
    for pname, label in mapping.items():
        url = route.url({**own, pname: pool.value("foreign", label)}, query)
        problems += _foreign_problems(client, route, url, f"org B's {label} as <{pname}>",
                                      {404})
    for pname, label in query_map.items():
        url = route.url(own, {**query, pname: pool.value("foreign", label)})
        problems += _foreign_problems(client, route, url, f"org B's {label} as ?{pname}=",
                                      QUERY_HIDDEN)
    if any(name == "org_slug" for _, name in route.params):
        url = route.url({**own, "org_slug": pool.foreign_slug}, query)
        problems += _foreign_problems(client, route, url, "org B's slug", {404})
    return [f"{route.name}: {p}" for p in problems]


def walk(client, pool: Pool, *, urlconf=None, table=ROUTE_PARAMS, only=None) -> list[str]:
    """Every problem on every walked route (or those whose name or pattern contains
    `only`), unmapped parameters first."""
    routes = [r for r in tenant_routes(urlconf) if r.name not in NOT_WALKED
              and (only is None or only in r.name or only in r.pattern)]
    problems = unmapped(routes, table)
    for route in routes:
        if route.name and not _missing(route, table):
            problems += check_route(client, route, pool, table)
    return problems


def test_walker_sees_every_tenant_route():
    names = {r.name for r in tenant_routes()}
    # A floor, so that a broken walker cannot pass by testing nothing.
    assert len(names) >= 150, sorted(names)
    assert {"api_member_detail", "api_caller_detail", "orgs:member_list",
            "projects:project_detail", "webhooks:delivery_redeliver", "orgs:sso_connection",
            "orgs:domain_verify", "api_identity_detail", "evidence:model_detail"} <= names


def test_every_route_parameter_is_mapped():
    assert unmapped(tenant_routes(), ROUTE_PARAMS) == []


def test_route_params_name_real_models_and_routes():
    names = {r.name for r in tenant_routes()}
    assert sorted(set(ROUTE_PARAMS) - names) == []
    for mapping in ROUTE_PARAMS.values():
        for label in mapping.values():
            apps.get_model(label)  # raises LookupError for a misspelt model


@pytest.fixture
def owner_client(world):
    """The owner of Acme (not a member of Globex). A view that crashes answers 500 here
    instead of ending the walk, so every route is reported."""
    client = Client(raise_request_exception=False)
    client.force_login(world[0].user)
    return client


def test_owner_reaches_own_objects_and_gets_404_for_other_orgs(owner_client, world):
    problems = walk(owner_client, world[1])
    assert problems == [], "\n".join(problems)


def test_unknown_org_slug_is_404(client, world):
    owner_a, _ = world
    client.force_login(owner_a.user)
    assert client.get("/o/no-such-org/members/").status_code == 404
    assert client.get("/api/v1/o/no-such-org/").status_code == 404


# A planted defect: a page that fetches a webhook endpoint by its public id without
# narrowing it to the org in the URL (STYLE.md rule 8 broken), next to a correct one.
@org_view()
def _leaky_endpoint(request, public_id):
    from orgs.webhooks.models import WebhookEndpoint

    endpoint = WebhookEndpoint.objects.get(public_id=public_id)  # the planted defect
    return HttpResponse(endpoint.url)


@org_view()
def _scoped_endpoint(request, public_id):
    from orgs.scoping import get_for_org_or_404
    from orgs.webhooks.models import WebhookEndpoint

    return HttpResponse(get_for_org_or_404(WebhookEndpoint, request.org,
                                           public_id=public_id).url)


class PlantedURLs:
    urlpatterns = [
        path("o/<slug:org_slug>/planted/leaky/<uuid:public_id>/", _leaky_endpoint,
             name="planted_leaky"),
        path("o/<slug:org_slug>/planted/scoped/<uuid:public_id>/", _scoped_endpoint,
             name="planted_scoped"),
        path("o/<slug:org_slug>/planted/unmapped/<uuid:thing>/", _scoped_endpoint,
             name="planted_unmapped"),
        path("o/<slug:org_slug>/planted/unnamed/<uuid:public_id>/", _scoped_endpoint),
        path("", include("governance.urls")),
    ]


PLANTED_TABLE = {"planted_leaky": {"public_id": "orgs.WebhookEndpoint"},
                 "planted_scoped": {"public_id": "orgs.WebhookEndpoint"}}


@pytest.fixture
def planted(settings, world):
    settings.ROOT_URLCONF = PlantedURLs
    return world[1]


def test_walker_reports_a_route_that_fetches_without_org_scoping(owner_client, planted):
    problems = walk(owner_client, planted, urlconf=PlantedURLs, table=PLANTED_TABLE,
                    only="planted_")
    leaky = [p for p in problems if p.startswith("planted_leaky:")]
    assert len(leaky) == 1, problems
    assert "org B's orgs.WebhookEndpoint as <public_id>) answered [200]" in leaky[0]
    assert not [p for p in problems if p.startswith("planted_scoped:")]


def test_walker_reports_a_route_filled_with_ids_of_the_wrong_model(owner_client, planted):
    # The old walker's blind spot: another model's id makes every answer 404, so the
    # foreign check passed without testing anything. Now the owner's own object must be
    # reachable first.
    table = {**PLANTED_TABLE, "planted_scoped": {"public_id": "approvals.PolicyRow"}}
    problems = walk(owner_client, planted, urlconf=PlantedURLs, table=table, only="planted_scoped")
    assert len(problems) == 1, problems
    assert "answered 404, not 200: the route never reaches its object" in problems[0]


def test_walker_reports_an_unmapped_route_parameter_with_the_line_to_add(owner_client, planted):
    problems = walk(owner_client, planted, urlconf=PlantedURLs, table=PLANTED_TABLE,
                    only="planted_unmapped")
    assert problems == [
        "planted_unmapped (o/<slug:org_slug>/planted/unmapped/<uuid:thing>/): parameter "
        "<uuid:thing> is not mapped; add to ROUTE_PARAMS in tests/test_tenancy.py:\n"
        '    "planted_unmapped": {"thing": "<app_label.Model>"},']


def test_walker_reports_an_unnamed_route(owner_client, planted):
    problems = walk(owner_client, planted, urlconf=PlantedURLs, table=PLANTED_TABLE,
                    only="planted/unnamed")
    assert problems == ["o/<slug:org_slug>/planted/unnamed/<uuid:public_id>/: the route has "
                        "no name, so it cannot be mapped; name it (STYLE.md rule 16) and add "
                        "it to ROUTE_PARAMS in tests/test_tenancy.py"]
