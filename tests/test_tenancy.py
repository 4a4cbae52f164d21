"""Walk every URL pattern that takes an org slug or a public id, and prove that another
org's slug or objects answer 404 (or 405 for a method the route never takes)."""

import itertools
import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from approvals.findings import finding_raise
from approvals.models import EvidencePack, SmokeRun
from approvals.services import deny_rule_create
from evidence.models import UsageImport
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


def _row_with_evidence(project, caller):
    """A policy row with one attached evidence item (a file), written directly: the walker
    needs the objects, not the services' rules."""
    from django.core.files.base import ContentFile

    from approvals.models import PolicyRow, RowEvidence
    from evidence.models import EvidenceItem

    row = PolicyRow.objects.create(
        org=project.org, project=project, caller=caller, business_reason="walker",
        environment=project.environments.get(tier="production"), monthly_budget=1)
    item = EvidenceItem(org=project.org, kind=EvidenceItem.Kind.USAGE_ROW, title="usage",
                        sha256="0" * 64, collector_label="walker", file_name="u.txt",
                        content_type="text/plain")
    item.file.save("u.txt", ContentFile(b"usage"), save=False)
    item.save()
    RowEvidence.objects.create(org=project.org, row=row, item=item)
    return row, item


@pytest.fixture
def tenants(personas, project_a, caller_a, outsider, project_b, caller_b, org_b):
    invitation_b, _ = invitation_create(org=org_b, actor=outsider, email="x@example.com",
                                        role=Role.MEMBER)
    token_b, _ = personal_token_create(user=outsider.user, name="theirs")
    deny_b = deny_rule_create(org=org_b, actor=outsider, reason="theirs", owner=outsider,
                              action="chat")
    deny_a = deny_rule_create(org=personas["owner"].org, actor=personas["owner"],
                              reason="ours", owner=personas["owner"], action="chat")
    foreign = [project_b.public_id, caller_b.public_id, outsider.public_id,
               invitation_b.public_id, token_b.public_id,
               EnvironmentFactory(project=project_b).public_id, deny_b.public_id]
    row_b, item_b = _row_with_evidence(project_b, caller_b)
    row_a, item_a = _row_with_evidence(project_a, caller_a)
    run_b, run_a = (SmokeRun.objects.create(org=r.org, row=r, row_version=1,
                                            started_by_label="walker") for r in (row_b, row_a))
    foreign += [row_b.public_id, item_b.public_id, run_b.public_id]
    own = [project_a.public_id, caller_a.public_id, personas["member"].public_id,
           deny_a.public_id, row_a.public_id, item_a.public_id, run_a.public_id]
    finding_b, _ = finding_raise(org=org_b, kind="unowned_calls", dedupe_key="theirs",
                                 title="Theirs", row=row_b)
    finding_a, _ = finding_raise(org=personas["owner"].org, kind="unowned_calls",
                                 dedupe_key="ours", title="Ours", row=row_a)
    foreign += [row_b.public_id, item_b.public_id, finding_b.public_id]
    own = [project_a.public_id, caller_a.public_id, personas["member"].public_id,
           deny_a.public_id, row_a.public_id, item_a.public_id, finding_a.public_id]
    pack_b, pack_a = (EvidencePack.objects.create(org=r.org, row=r, requested_by=m)
                      for r, m in ((row_b, outsider), (row_a, personas["owner"])))
    foreign.append(pack_b.public_id)
    own.append(pack_a.public_id)
    usage_a, usage_b = (UsageImport.objects.create(org=org, kind="usage", source="api",
                                                   source_ref="walker.csv")
                        for org in (personas["owner"].org, org_b))
    own.append(usage_a.public_id)
    foreign.append(usage_b.public_id)
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


def _uuid_routes():
    return [(route, name) for route, name in tenant_routes()
            if any(conv == "uuid" for conv, _ in PARAM.findall(route))]


def _combos(n, own, foreign):
    """Every foreign id in each position, the other positions taking every own id: an own
    row with a foreign item, a foreign row with an own item. (All combinations grow as the
    pool squared per extra UUID and say nothing more.)"""
    if n == 1:
        yield from ((f,) for f in foreign)
        return
    for pos in range(n):
        for f in foreign:
            for others in itertools.product(own, repeat=n - 1):
                yield (*others[:pos], f, *others[pos:])


# One test per route, so that xdist spreads the walk over its workers.
@pytest.mark.parametrize(("route", "name"), _uuid_routes(), ids=lambda v: v)
def test_other_orgs_ids_are_404_on_every_route(client, personas, tenants, route, name):
    client.force_login(personas["owner"].user)
    uuid_params = [p for conv, p in PARAM.findall(route) if conv == "uuid"]
    for combo in _combos(len(uuid_params), tenants["own"], tenants["foreign"]):
        values = dict(zip(uuid_params, combo, strict=True), org_slug="acme")
        assert_hidden(client, fill(route, values))


def test_unknown_org_slug_is_404(client, personas):
    client.force_login(personas["owner"].user)
    assert client.get("/o/no-such-org/members/").status_code == 404
    assert client.get("/api/v1/o/no-such-org/").status_code == 404
