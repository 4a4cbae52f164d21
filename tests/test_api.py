"""The REST API: role x {own org, other org} for every endpoint, bad input, token auth."""

import pytest
from rest_framework.test import APIClient

from orgs.audit import AuditEvent
from orgs.models import Invitation, Membership, Organization
from orgs.roles import Role
from orgs.services import invitation_create, personal_token_create
from projects.models import Project
from tests.conftest import ROLES
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

ALL = set(ROLES)
ADMINS = {"owner", "admin"}
AUDIT_READERS = {"owner", "admin", "security", "auditor"}
PROJECT_CREATORS = {"owner", "admin", "member"}


@pytest.fixture
def world(personas, org_a, project_a, caller_a, outsider, project_b, caller_b):
    """Org A with a persona per role, a spare member, an invitation, a project and a caller."""
    spare = MembershipFactory(org=org_a, role=Role.AUDITOR, user__email="spare@acme.test")
    invitation, _ = invitation_create(org=org_a, actor=personas["owner"],
                                      email="invitee@example.com", role=Role.MEMBER)
    return {"org": org_a, "spare": spare, "invitation": invitation, "project": project_a,
            "caller": caller_a, "personas": personas}


def base(w):
    return "/api/v1/o/acme/"


# (name, method, path builder, body builder, roles that succeed, success status)
ENDPOINTS = [
    ("org detail", "get", lambda w: base(w), None, ALL, 200),
    ("org update", "patch", lambda w: base(w), lambda w: {"name": "Acme 2"}, ADMINS, 200),
    ("member list", "get", lambda w: base(w) + "members/", None, ALL, 200),
    ("member detail", "get", lambda w: f"{base(w)}members/{w['spare'].public_id}/", None, ALL,
     200),
    ("member role", "patch", lambda w: f"{base(w)}members/{w['spare'].public_id}/",
     lambda w: {"role": "member"}, ADMINS, 200),
    ("member remove", "delete", lambda w: f"{base(w)}members/{w['spare'].public_id}/", None,
     ADMINS, 204),
    ("invitation list", "get", lambda w: base(w) + "invitations/", None, ALL, 200),
    ("invitation create", "post", lambda w: base(w) + "invitations/",
     lambda w: {"email": "new@example.com", "role": "auditor"}, ADMINS, 201),
    ("invitation revoke", "delete",
     lambda w: f"{base(w)}invitations/{w['invitation'].public_id}/", None, ADMINS, 204),
    ("audit list", "get", lambda w: base(w) + "audit/", None, AUDIT_READERS, 200),
    ("project list", "get", lambda w: base(w) + "projects/", None, ALL, 200),
    ("project create", "post", lambda w: base(w) + "projects/",
     lambda w: {"name": "New", "slug": "new-project"}, PROJECT_CREATORS, 201),
    ("project detail", "get", lambda w: f"{base(w)}projects/{w['project'].public_id}/", None,
     ALL, 200),
    ("project update", "patch", lambda w: f"{base(w)}projects/{w['project'].public_id}/",
     lambda w: {"description": "changed"}, ADMINS, 200),
    ("environment list", "get",
     lambda w: f"{base(w)}projects/{w['project'].public_id}/environments/", None, ALL, 200),
    ("environment create", "post",
     lambda w: f"{base(w)}projects/{w['project'].public_id}/environments/",
     lambda w: {"name": "eu-production", "tier": "production"}, ADMINS, 201),
    ("caller list", "get", lambda w: f"{base(w)}projects/{w['project'].public_id}/callers/",
     None, ALL, 200),
    ("caller create", "post", lambda w: f"{base(w)}projects/{w['project'].public_id}/callers/",
     lambda w: {"name": "nightly", "kind": "batch_job", "owner": str(w["spare"].public_id)},
     ADMINS, 201),
    ("caller detail", "get",
     lambda w: f"{base(w)}projects/{w['project'].public_id}/callers/{w['caller'].public_id}/",
     None, ALL, 200),
    ("caller update", "patch",
     lambda w: f"{base(w)}projects/{w['project'].public_id}/callers/{w['caller'].public_id}/",
     lambda w: {"description": "serves the help centre"}, ADMINS, 200),
    ("project roles", "get", lambda w: f"{base(w)}projects/{w['project'].public_id}/roles/",
     None, ALL, 200),
    ("project role set", "post", lambda w: f"{base(w)}projects/{w['project'].public_id}/roles/",
     lambda w: {"member": str(w["spare"].public_id), "role": "viewer"}, ADMINS, 200),
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
    events_before = AuditEvent.objects.for_org(world["org"]).count()
    response = call(client, method, path(world), body(world) if body else None)
    if role in allowed:
        assert response.status_code == ok, response.content
        if method != "get":
            assert AuditEvent.objects.for_org(world["org"]).count() > events_before
    else:
        assert response.status_code == 403, response.content
        assert AuditEvent.objects.for_org(world["org"]).count() == events_before


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
def test_outsider_gets_404_everywhere(world, outsider, endpoint):
    name, method, path, body, allowed, ok = endpoint
    client = APIClient()
    client.force_authenticate(outsider.user)  # owner of org B: every scope, but not in A
    response = call(client, method, path(world), body(world) if body else None)
    assert response.status_code == 404, response.content


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
def test_anonymous_is_refused(world, endpoint):
    name, method, path, body, allowed, ok = endpoint
    response = call(APIClient(), method, path(world), body(world) if body else None)
    assert response.status_code in (401, 403)


def test_project_admin_by_guardian_grant_may_edit_project(world):
    from projects.services import project_role_set

    member = world["personas"]["member"]
    project_role_set(org=world["org"], actor=world["personas"]["owner"],
                     project=world["project"], membership=member, role="admin")
    client = APIClient()
    client.force_authenticate(member.user)
    response = client.patch(f"/api/v1/o/acme/projects/{world['project'].public_id}/",
                            {"description": "mine now"}, format="json")
    assert response.status_code == 200


def test_foreign_ids_in_own_org_path_give_404(world, project_b, caller_b, outsider):
    client = APIClient()
    client.force_authenticate(world["personas"]["owner"].user)
    for path in (f"/api/v1/o/acme/projects/{project_b.public_id}/",
                 f"/api/v1/o/acme/members/{outsider.public_id}/",
                 f"/api/v1/o/acme/projects/{world['project'].public_id}/callers/"
                 f"{caller_b.public_id}/"):
        assert client.get(path).status_code == 404, path


def test_caller_owner_from_another_org_is_a_field_error(world, outsider):
    client = APIClient()
    client.force_authenticate(world["personas"]["owner"].user)
    response = client.post(f"/api/v1/o/acme/projects/{world['project'].public_id}/callers/",
                           {"name": "x", "kind": "batch_job", "owner": str(outsider.public_id)},
                           format="json")
    assert response.status_code == 400
    assert "owner" in response.json()


@pytest.mark.parametrize("body,field", [
    ({"name": "Dup", "slug": "support-bot"}, "slug"),
    ({"name": "", "slug": "ok-slug"}, "name"),
    ({"name": "Bad", "slug": "Not A Slug"}, "slug"),
])
def test_bad_project_body_gets_field_errors_and_changes_nothing(world, body, field):
    client = APIClient()
    client.force_authenticate(world["personas"]["owner"].user)
    before = Project.objects.count()
    response = client.post("/api/v1/o/acme/projects/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert Project.objects.count() == before


def test_malformed_json_is_a_clear_400(world):
    client = APIClient()
    client.force_authenticate(world["personas"]["owner"].user)
    response = client.post("/api/v1/o/acme/invitations/", data="{not json",
                           content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


@pytest.mark.parametrize("body,field", [
    ({"email": "not-an-email", "role": "member"}, "email"),
    ({"email": "x@example.com", "role": "emperor"}, "role"),
    ({"email": "x@example.com", "role": "owner"}, "role"),  # above an admin's rank
])
def test_bad_invitation_gets_field_error(world, body, field):
    client = APIClient()
    client.force_authenticate(world["personas"]["admin"].user)
    before = Invitation.objects.count()
    response = client.post("/api/v1/o/acme/invitations/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert Invitation.objects.count() == before


def test_demoting_last_owner_over_api_is_a_field_error(world):
    client = APIClient()
    owner = world["personas"]["owner"]
    client.force_authenticate(owner.user)
    response = client.patch(f"/api/v1/o/acme/members/{owner.public_id}/", {"role": "admin"},
                            format="json")
    assert response.status_code == 400
    assert "last owner" in response.json()["role"][0]


def test_unknown_org_slug_is_404(world):
    client = APIClient()
    client.force_authenticate(world["personas"]["owner"].user)
    assert client.get("/api/v1/o/no-such-org/members/").status_code == 404


def test_create_org_and_duplicate_slug(world):
    client = APIClient()
    client.force_authenticate(world["personas"]["member"].user)
    assert client.post("/api/v1/orgs/", {"name": "Side", "slug": "side"},
                       format="json").status_code == 201
    response = client.post("/api/v1/orgs/", {"name": "Again", "slug": "acme"}, format="json")
    assert response.status_code == 400 and "slug" in response.json()
    assert Organization.objects.filter(slug="side").count() == 1
    slugs = {o["slug"] for o in client.get("/api/v1/orgs/").json()["results"]}
    assert slugs == {"acme", "side"}


def test_audit_api_filters_and_bad_date(world):
    client = APIClient()
    client.force_authenticate(world["personas"]["auditor"].user)
    data = client.get("/api/v1/o/acme/audit/?action=invitation.").json()
    assert data["count"] == 1 and data["results"][0]["action"] == "invitation.created"
    response = client.get("/api/v1/o/acme/audit/?since=yesterday")
    assert response.status_code == 400 and "since" in response.json()


def test_personal_token_authenticates_and_stops_after_revocation(world):
    user = world["personas"]["security"].user
    token, secret = personal_token_create(user=user, name="script")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert client.get("/api/v1/o/acme/members/").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None
    owner = APIClient()
    owner.force_authenticate(user)
    assert owner.delete(f"/api/v1/tokens/{token.public_id}/").status_code == 204
    assert client.get("/api/v1/o/acme/members/").status_code == 401


def test_token_create_shows_secret_once(world):
    client = APIClient()
    client.force_authenticate(world["personas"]["member"].user)
    created = client.post("/api/v1/tokens/", {"name": "ci", "days": 30}, format="json").json()
    assert created["secret"].startswith("gvp_")
    listed = client.get("/api/v1/tokens/").json()["results"]
    assert "secret" not in listed[0]


def test_someone_elses_token_is_404(world):
    token, _ = personal_token_create(user=world["personas"]["owner"].user, name="mine")
    client = APIClient()
    client.force_authenticate(world["personas"]["admin"].user)
    assert client.delete(f"/api/v1/tokens/{token.public_id}/").status_code == 404


def test_invitation_accept_over_api(world):
    user = UserFactory(email="joiner@example.com")
    _, token = invitation_create(org=world["org"], actor=world["personas"]["owner"],
                                 email=user.email, role=Role.FINANCE)
    client = APIClient()
    client.force_authenticate(user)
    response = client.post("/api/v1/invitations/accept/", {"token": token}, format="json")
    assert response.status_code == 201 and response.json()["role"] == "finance"
    again = client.post("/api/v1/invitations/accept/", {"token": token}, format="json")
    assert again.status_code == 400 and "token" in again.json()
    assert Membership.objects.filter(user=user).count() == 1


@pytest.mark.parametrize("rows", [3, 50])
def test_list_endpoints_keep_constant_queries(world, django_assert_num_queries, rows):
    org = world["org"]
    for _ in range(rows):
        MembershipFactory(org=org)
    client = APIClient()
    client.force_authenticate(world["personas"]["owner"].user)
    # 1 membership+org resolve, 1 count, 1 page of members with users.
    with django_assert_num_queries(3):
        assert client.get("/api/v1/o/acme/members/").status_code == 200
    # 1 resolve, 1 count, 1 page of events.
    with django_assert_num_queries(3):
        assert client.get("/api/v1/o/acme/audit/").status_code == 200
    # 1 resolve, 1 count, 1 page of projects with annotated counts.
    with django_assert_num_queries(3):
        assert client.get("/api/v1/o/acme/projects/").status_code == 200


def test_openapi_schema_and_docs_are_served_offline(world, client):
    client.force_login(world["personas"]["owner"].user)
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200 and b"/api/v1/o/{org_slug}/members/" in schema.content
    docs = client.get("/api/v1/docs/").content.decode()
    assert "swagger-ui" in docs and "cdn" not in docs.lower()
    redoc = client.get("/api/v1/redoc/").content.decode()
    assert "redoc" in redoc and "cdn" not in redoc.lower()
