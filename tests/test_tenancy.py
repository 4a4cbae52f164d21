"""Walk every URL pattern that takes an org slug or a public id, and prove that another
org's slug or objects answer 404 (or 405 for a method the route never takes)."""

import itertools
import re
from datetime import date, timedelta

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from approvals.services import deny_rule_create
from orgs.roles import Role
from orgs.services import invitation_create, personal_token_create
from tests.factories import EnvironmentFactory

pytestmark = pytest.mark.django_db

PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
SKIP_PREFIXES = ("admin/", "accounts/")


def walk(patterns, prefix=""):
    for p in patterns:
        route = prefix + str(p.pattern)
        if isinstance(p, URLResolver):
            yield from walk(p.url_patterns, route)
        elif isinstance(p, URLPattern):
            yield route, p.name


def tenant_routes():
    routes = []
    for route, name in walk(get_resolver().url_patterns):
        if route.startswith(SKIP_PREFIXES) or route.startswith("^"):
            continue
        params = PARAM.findall(route)
        if any(conv in ("uuid",) or pname == "org_slug" for conv, pname in params):
            routes.append((route, name))
    return routes


def fill(route, values):
    return "/" + PARAM.sub(lambda m: values[m.group(2)], route)


def _policy_row(org, project, caller, actor):
    from approvals.services import row_create
    from tests.approvals.conftest import make_entry, make_snapshot

    owners = ("app_owner", "engineering_owner", "finance_owner", "evidence_owner",
              "cutoff_owner")
    return row_create(
        org=org, actor=actor, approved_models=[make_entry(make_snapshot(org))],
        project=project, environment=project.environments.filter(tier="production").first(),
        caller=caller, allowed_actions=["chat"], data_classes=["internal"],
        business_reason="walker", monthly_budget="10", renewal_triggers=["incident"],
        renewal_date=date.today() + timedelta(days=30), **dict.fromkeys(owners, actor))


@pytest.fixture
def tenants(personas, project_a, caller_a, outsider, project_b, caller_b, org_b):
    invitation_b, _ = invitation_create(org=org_b, actor=outsider, email="x@example.com",
                                        role=Role.MEMBER)
    token_b, _ = personal_token_create(user=outsider.user, name="theirs")
    foreign = [project_b.public_id, caller_b.public_id, outsider.public_id,
               invitation_b.public_id, token_b.public_id,
               EnvironmentFactory(project=project_b).public_id,
               _policy_row(org_b, project_b, caller_b, outsider).public_id,
               deny_rule_create(org=org_b, actor=outsider, reason="theirs", owner=outsider,
                                action="image").public_id]
    own = [project_a.public_id, caller_a.public_id, personas["member"].public_id,
           _policy_row(project_a.org, project_a, caller_a, personas["owner"]).public_id]
    return {"own": [str(u) for u in own], "foreign": [str(u) for u in foreign]}


def assert_hidden(client, url):
    statuses = {client.get(url).status_code, client.post(url, {}).status_code}
    assert statuses <= {404, 405} and 404 in statuses, (url, statuses)


def test_walker_sees_every_tenant_route():
    names = {name for _, name in tenant_routes()}
    # A floor, so that a broken walker cannot pass by testing nothing.
    assert len(names) >= 25, sorted(names)
    assert {"api_member_detail", "api_caller_detail", "member_list",
            "project_detail"} <= names


def test_other_orgs_slug_is_404_on_every_route(client, personas, tenants):
    client.force_login(personas["owner"].user)  # owner of Acme, not a member of Globex
    for route, _name in tenant_routes():
        uuids = PARAM.findall(route)
        values = {pname: tenants["own"][0] for _, pname in uuids}
        values["org_slug"] = "globex"
        if "org_slug" in route:
            assert_hidden(client, fill(route, values))


def test_other_orgs_ids_are_404_on_every_route(client, personas, tenants):
    client.force_login(personas["owner"].user)
    for route, _name in tenant_routes():
        uuid_params = [p for conv, p in PARAM.findall(route) if conv == "uuid"]
        if not uuid_params:
            continue
        pool = tenants["own"] + tenants["foreign"]
        for combo in itertools.product(pool, repeat=len(uuid_params)):
            if not set(combo) & set(tenants["foreign"]):
                continue
            values = dict(zip(uuid_params, combo, strict=True), org_slug="acme")
            assert_hidden(client, fill(route, values))


def test_unknown_org_slug_is_404(client, personas):
    client.force_login(personas["owner"].user)
    assert client.get("/o/no-such-org/members/").status_code == 404
    assert client.get("/api/v1/o/no-such-org/").status_code == 404
