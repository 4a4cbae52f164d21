"""The keys and workload identity API: role x {own org, other org} for every endpoint, the
secret only in the create and rotate responses, and pinned query counts."""

import pytest
from rest_framework.test import APIClient

from orgs.audit import AuditEvent
from projects import workload
from tests.conftest import ROLES
from tests.projects.conftest import make_key

# Issuer URLs are checked against the outbound policy when saved: they resolve to a public
# address without DNS (the machine has no resolver for them).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("public_dns")]

ALL = set(ROLES)
ADMINS = {"owner", "admin"}
REVOKERS = {"owner", "admin", "security"}
GITHUB = "https://token.actions.githubusercontent.com"


@pytest.fixture
def world(org_a, personas, envs, caller_a, outsider, project_b):
    key, secret = make_key(org_a, personas["owner"], envs["development"], caller_a)
    identity = workload.identity_create(
        org=org_a, actor=personas["owner"], project=envs["production"].project,
        environment=envs["production"], caller=caller_a, name="deploy", issuer=GITHUB,
        audience="governance", claim="sub", match="exact", pattern="repo:acme/app:*")
    return {"key": key, "secret": secret, "envs": envs, "caller": caller_a,
            "project": envs["development"].project, "identity": identity,
            "personas": personas, "org": org_a}


K = "/api/v1/o/acme/keys/"


def P(w):
    return f"/api/v1/o/acme/projects/{w['project'].public_id}/workload-identities/"


ENDPOINTS = [
    ("key list", "get", lambda w: K, None, ALL, 200),
    ("key create", "post", lambda w: K, lambda w: {
        "project": str(w["project"].public_id),
        "environment": str(w["envs"]["development"].public_id),
        "caller": str(w["caller"].public_id), "name": "ci"}, ADMINS, 201),
    ("key detail", "get", lambda w: f"{K}{w['key'].public_id}/", None, ALL, 200),
    ("key rotate", "post", lambda w: f"{K}{w['key'].public_id}/rotate/",
     lambda w: {"overlap_seconds": 3600}, ADMINS, 201),
    ("key revoke", "post", lambda w: f"{K}{w['key'].public_id}/revoke/",
     lambda w: {"reason": "retired"}, REVOKERS, 200),
    ("key report leaked", "post", lambda w: K + "report-leaked/",
     lambda w: {"secret": w["secret"]}, ALL, 200),
    ("identity list", "get", P, None, ALL, 200),
    ("identity create", "post", P, lambda w: {
        "name": "nightly", "environment": str(w["envs"]["staging"].public_id),
        "caller": str(w["caller"].public_id), "issuer": GITHUB, "audience": "governance",
        "claim": "sub", "match": "glob", "pattern": "repo:acme/*"}, ADMINS, 201),
    ("identity detail", "get", lambda w: f"{P(w)}{w['identity'].public_id}/", None, ALL, 200),
    ("identity delete", "delete", lambda w: f"{P(w)}{w['identity'].public_id}/", None,
     ADMINS, 204),
]


def call(client, method, path, body):
    return getattr(client, method)(path, body, format="json") if body is not None \
        else getattr(client, method)(path)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
def test_role_matrix(world, role, endpoint):
    name, method, path, body, allowed, ok = endpoint
    client = APIClient()
    client.force_authenticate(world["personas"][role].user)
    before = AuditEvent.objects.for_org(world["org"]).count()
    response = call(client, method, path(world), body(world) if body else None)
    if role in allowed:
        assert response.status_code == ok, response.content
        if method != "get":
            assert AuditEvent.objects.for_org(world["org"]).count() > before
    else:
        assert response.status_code == 403, response.content
        assert AuditEvent.objects.for_org(world["org"]).count() == before


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
def test_outsider_gets_404_everywhere(world, outsider, endpoint):
    name, method, path, body, allowed, ok = endpoint
    if name == "key report leaked":
        return  # not org-bound: covered by test_leak_report_from_another_org_reveals_nothing
    client = APIClient()
    client.force_authenticate(outsider.user)
    response = call(client, method, path(world), body(world) if body else None)
    assert response.status_code == 404, response.content


def test_leak_report_from_another_org_reveals_nothing(world, outsider):
    client = APIClient()
    client.force_authenticate(outsider.user)
    response = client.post("/api/v1/o/globex/keys/report-leaked/", {"secret": world["secret"]},
                           format="json")
    assert response.status_code == 200
    assert response.json() == {"revoked": True, "key": None}


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
def test_anonymous_is_refused(world, endpoint):
    name, method, path, body, allowed, ok = endpoint
    response = call(APIClient(), method, path(world), body(world) if body else None)
    assert response.status_code in (401, 403)


def test_secret_only_in_the_create_response(world):
    client = APIClient()
    client.force_authenticate(world["personas"]["owner"].user)
    created = client.post(K, ENDPOINTS[1][3](world), format="json")
    assert created.status_code == 201
    secret = created.json()["secret"]
    assert secret.startswith("gvk_test_") and created["Cache-Control"] == "no-store"
    detail = client.get(f"{K}{created.json()['id']}/")
    listing = client.get(K)
    for response in (detail, listing):
        assert secret not in response.content.decode()
        assert "secret" not in response.json()


def test_bad_input_is_refused_field_by_field(world, project_b):
    client = APIClient()
    client.force_authenticate(world["personas"]["owner"].user)
    body = ENDPOINTS[1][3](world)
    foreign = client.post(K, {**body, "project": str(project_b.public_id)}, format="json")
    assert foreign.status_code == 400 and "project" in foreign.json()
    mixed = client.post(K, {**body, "environment": str(
        world["envs"]["production"].public_id), "expires_in_days": 1000}, format="json")
    assert mixed.status_code == 400 and "expires_in_days" in mixed.json()
    bad_filter = client.get(K + "?status=sparkling")
    assert bad_filter.status_code == 400 and "status" in bad_filter.json()


def test_list_filters(world):
    client = APIClient()
    client.force_authenticate(world["personas"]["owner"].user)
    make_key(world["org"], world["personas"]["owner"], world["envs"]["production"],
             world["caller"])
    env = world["envs"]["production"].public_id
    assert client.get(f"{K}?environment={env}").json()["count"] == 1
    assert client.get(f"{K}?status=active").json()["count"] == 2
    assert client.get(f"{K}?status=revoked").json()["count"] == 0
    assert client.get(f"{K}?status=expiring").json()["count"] == 0


def test_key_list_query_count_does_not_grow_with_keys(world, django_assert_num_queries):
    owner = world["personas"]["owner"]
    for _ in range(5):
        make_key(world["org"], owner, world["envs"]["staging"], world["caller"])
    client = APIClient()
    client.force_authenticate(owner.user)
    # membership + org, the page count, one page of keys with project, environment,
    # caller and creator joined
    with django_assert_num_queries(3):
        assert client.get(K).json()["count"] == 6
