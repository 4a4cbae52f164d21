"""HTML views of projects: every page and POST URL over every role of org A plus the
outsider, bad input that changes nothing, and the project list's query count."""

import pytest
from django.urls import reverse

from orgs.audit import AuditEvent
from orgs.roles import Role
from projects import services
from projects.models import Caller, Environment, Project
from projects.selectors import project_role_of
from tests.conftest import ROLES, login
from tests.factories import MembershipFactory, OrganizationFactory, ProjectFactory

ALL = set(ROLES)
CREATORS = {Role.OWNER, Role.ADMIN, Role.MEMBER}
# Org roles with projects:admin; the others administer only projects they hold a role on.
ORG_PROJECT_ADMINS = {Role.OWNER, Role.ADMIN}




def url(name, *args, slug="acme"):
    return reverse(f"projects:{name}", args=[slug, *args])


def as_role(client, personas, role):
    return login(client, personas[role])


# --- GET pages ----------------------------------------------------------------------------

def pages(project, caller):
    return {
        "project_list": (url("project_list"), ALL),
        "project_create": (url("project_create"), CREATORS),
        "project_detail": (url("project_detail", project.public_id), ALL),
        "project_edit": (url("project_edit", project.public_id), ORG_PROJECT_ADMINS),
        "caller_create": (url("caller_create", project.public_id), ORG_PROJECT_ADMINS),
        "caller_edit": (url("caller_edit", project.public_id, caller.public_id),
                        ORG_PROJECT_ADMINS),
    }


PAGE_NAMES = ["project_list", "project_create", "project_detail", "project_edit",
              "caller_create", "caller_edit"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", PAGE_NAMES)
def test_project_page_is_200_with_permission_and_403_without(client, personas, caller_a,
                                                               role, name):
    path, allowed = pages(caller_a.project, caller_a)[name]
    response = as_role(client, personas, role).get(path)
    assert response.status_code == (200 if role in allowed else 403)


@pytest.mark.parametrize("name", PAGE_NAMES)
def test_outsider_gets_404(client, personas, caller_a, outsider, name):
    path, _ = pages(caller_a.project, caller_a)[name]
    assert login(client, outsider).get(path).status_code == 404


@pytest.mark.parametrize("name", PAGE_NAMES)
def test_anonymous_is_sent_to_login(client, caller_a, name):
    path, _ = pages(caller_a.project, caller_a)[name]
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_other_orgs_project_is_404_inside_own_org(client, owner, project_b):
    response = login(client, owner).get(url("project_detail", project_b.public_id))
    assert response.status_code == 404


def test_other_projects_caller_is_404(client, owner, project_a, caller_b):
    response = login(client, owner).get(
        url("caller_edit", project_a.public_id, caller_b.public_id))
    assert response.status_code == 404


def test_project_list_shows_counts_and_new_button_only_to_creators(client, personas, caller_a):
    response = as_role(client, personas, Role.MEMBER).get(url("project_list"))
    [project] = response.context["projects"]
    assert (project.environment_count, project.caller_count) == (3, 1)
    assert url("project_create").encode() in response.content
    auditor = as_role(client, personas, Role.AUDITOR).get(url("project_list"))
    assert url("project_create").encode() not in auditor.content


def test_project_detail_shows_forms_only_to_project_admins(client, personas, project_a):
    admin = as_role(client, personas, Role.ADMIN).get(url("project_detail", project_a.public_id))
    assert admin.context["can_admin"] and "environment_form" in admin.context
    member = as_role(client, personas, Role.MEMBER).get(url("project_detail", project_a.public_id))
    assert not member.context["can_admin"] and "environment_form" not in member.context
    assert url("environment_create", project_a.public_id).encode() not in member.content


# --- create and edit projects -------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_only_creators_create_projects(client, personas, role):
    response = as_role(client, personas, role).post(
        url("project_create"), {"name": "Search", "slug": "search", "description": ""})
    project = Project.objects.filter(org=personas[Role.OWNER].org, slug="search").first()
    if role in CREATORS:
        assert response.status_code == 302
        assert response["Location"] == url("project_detail", project.public_id)
        assert project.environments.count() == 3
    else:
        assert response.status_code == 403
        assert project is None


def test_outsider_cannot_create_projects_in_org_a(client, org_a, outsider):
    response = login(client, outsider).post(url("project_create"),
                                            {"name": "X", "slug": "x"})
    assert response.status_code == 404
    assert not Project.objects.filter(org=org_a).exists()


def test_project_creator_administers_own_project(client, personas):
    login(client, personas[Role.MEMBER]).post(url("project_create"),
                                              {"name": "Mine", "slug": "mine"})
    project = Project.objects.get(slug="mine")
    assert client.get(url("project_edit", project.public_id)).status_code == 200


def test_duplicate_project_slug_is_a_field_error_and_changes_nothing(client, owner, project_a):
    events, projects = AuditEvent.objects.count(), Project.objects.count()
    response = login(client, owner).post(
        url("project_create"), {"name": "Again", "slug": project_a.slug})
    assert response.status_code == 400
    assert "already exists" in response.context["form"].errors["slug"][0]
    assert (AuditEvent.objects.count(), Project.objects.count()) == (events, projects)


def test_malformed_project_slug_is_a_field_error(client, owner):
    response = login(client, owner).post(url("project_create"),
                                         {"name": "Bad", "slug": "Not a slug!"})
    assert response.status_code == 400
    assert response.context["form"].errors["slug"]
    assert not Project.objects.exists()


def test_same_slug_is_fine_in_another_org(client, owner, project_b):
    response = login(client, owner).post(url("project_create"),
                                         {"name": "Same", "slug": project_b.slug})
    assert response.status_code == 302


@pytest.mark.parametrize("role", ROLES)
def test_only_project_admins_edit_projects(client, personas, project_a, role):
    response = as_role(client, personas, role).post(
        url("project_edit", project_a.public_id), {"name": "Renamed", "description": "d"})
    project_a.refresh_from_db()
    if role in ORG_PROJECT_ADMINS:
        assert response.status_code == 302
        assert project_a.name == "Renamed"
    else:
        assert response.status_code == 403
        assert project_a.name == "Support bot"


def test_project_edit_needs_a_name(client, owner, project_a):
    events = AuditEvent.objects.count()
    response = login(client, owner).post(url("project_edit", project_a.public_id),
                                         {"name": "", "description": ""})
    assert response.status_code == 400
    assert response.context["form"].errors["name"]
    assert AuditEvent.objects.count() == events


# --- environments -------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_only_project_admins_add_environments(client, personas, project_a, role):
    response = as_role(client, personas, role).post(
        url("environment_create", project_a.public_id),
        {"name": "eu-production", "tier": "production"})
    created = Environment.objects.filter(project=project_a, name="eu-production").exists()
    assert response.status_code == (302 if role in ORG_PROJECT_ADMINS else 403)
    assert created == (role in ORG_PROJECT_ADMINS)


def test_outsider_cannot_add_environments(client, project_a, outsider):
    response = login(client, outsider).post(url("environment_create", project_a.public_id),
                                            {"name": "x", "tier": "development"})
    assert response.status_code == 404


def test_environment_create_is_post_only(client, owner, project_a):
    response = login(client, owner).get(url("environment_create", project_a.public_id))
    assert response.status_code == 405


def test_duplicate_environment_name_is_a_field_error(client, owner, project_a):
    events = AuditEvent.objects.count()
    response = login(client, owner).post(url("environment_create", project_a.public_id),
                                         {"name": "production", "tier": "production"})
    assert response.status_code == 400
    assert "already has" in response.context["environment_form"].errors["name"][0]
    assert Environment.objects.filter(project=project_a).count() == 3
    assert AuditEvent.objects.count() == events


# --- callers ------------------------------------------------------------------------------

def caller_data(owner, **extra):
    return {"name": "batch-summariser", "kind": "batch_job", "owner": str(owner.public_id),
            "description": "", **extra}


@pytest.mark.parametrize("role", ROLES)
def test_only_project_admins_add_callers(client, personas, project_a, role):
    response = as_role(client, personas, role).post(
        url("caller_create", project_a.public_id), caller_data(personas[Role.MEMBER]))
    caller = Caller.objects.filter(project=project_a, name="batch-summariser").first()
    if role in ORG_PROJECT_ADMINS:
        assert response.status_code == 302
        assert caller.owner == personas[Role.MEMBER]
    else:
        assert response.status_code == 403
        assert caller is None


def test_caller_owner_from_another_org_is_refused(client, owner, project_a, outsider):
    events = AuditEvent.objects.count()
    response = login(client, owner).post(url("caller_create", project_a.public_id),
                                         caller_data(outsider))
    assert response.status_code == 400
    assert response.context["form"].errors["owner"]
    assert not Caller.objects.filter(project=project_a).exists()
    assert AuditEvent.objects.count() == events


def test_duplicate_caller_name_is_a_field_error(client, owner, caller_a):
    response = login(client, owner).post(
        url("caller_create", caller_a.project.public_id), caller_data(owner, name="support-api"))
    assert response.status_code == 400
    assert response.context["form"].errors["name"]
    assert Caller.objects.filter(project=caller_a.project).count() == 1


@pytest.mark.parametrize("role", ROLES)
def test_only_project_admins_edit_callers(client, personas, caller_a, role):
    response = as_role(client, personas, role).post(
        url("caller_edit", caller_a.project.public_id, caller_a.public_id),
        caller_data(personas[Role.SECURITY], name="support-api-v2"))
    caller_a.refresh_from_db()
    if role in ORG_PROJECT_ADMINS:
        assert response.status_code == 302
        assert (caller_a.name, caller_a.owner) == ("support-api-v2", personas[Role.SECURITY])
    else:
        assert response.status_code == 403
        assert caller_a.name == "support-api"


def test_outsider_cannot_edit_callers(client, caller_a, outsider):
    response = login(client, outsider).post(
        url("caller_edit", caller_a.project.public_id, caller_a.public_id),
        caller_data(outsider))
    assert response.status_code == 404


# --- project roles ------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_only_project_admins_set_project_roles(client, personas, project_a, role):
    target = personas[Role.AUDITOR]
    response = as_role(client, personas, role).post(
        url("project_role_set", project_a.public_id),
        {"membership": str(target.public_id), "role": "viewer"})
    granted = project_role_of(project=project_a, user=target.user)
    if role in ORG_PROJECT_ADMINS:
        assert response.status_code == 302
        assert granted == "viewer"
    else:
        assert response.status_code == 403
        assert granted is None


def test_project_role_can_be_taken_away(client, owner, personas, project_a):
    target = personas[Role.MEMBER]
    services.project_role_set(org=owner.org, actor=owner, project=project_a, membership=target,
                              role="developer")
    login(client, owner).post(url("project_role_set", project_a.public_id),
                              {"membership": str(target.public_id), "role": "none"})
    assert project_role_of(project=project_a, user=target.user) is None


def test_project_admin_role_lets_a_member_administer_that_project(client, owner, personas,
                                                                  project_a):
    member = personas[Role.MEMBER]
    services.project_role_set(org=owner.org, actor=owner, project=project_a, membership=member,
                              role="admin")
    response = login(client, member).post(url("environment_create", project_a.public_id),
                                          {"name": "qa", "tier": "staging"})
    assert response.status_code == 302


def test_project_role_for_another_orgs_member_is_refused(client, owner, project_a, outsider):
    events = AuditEvent.objects.count()
    response = login(client, owner).post(url("project_role_set", project_a.public_id),
                                         {"membership": str(outsider.public_id), "role": "admin"})
    assert response.status_code == 400
    assert response.context["role_form"].errors["membership"]
    assert project_role_of(project=project_a, user=outsider.user) is None
    assert AuditEvent.objects.count() == events


def test_outsider_cannot_set_project_roles(client, personas, project_a, outsider):
    response = login(client, outsider).post(
        url("project_role_set", project_a.public_id),
        {"membership": str(personas[Role.MEMBER].public_id), "role": "admin"})
    assert response.status_code == 404


# --- query count --------------------------------------------------------------------------

@pytest.mark.parametrize("rows", [3, 50])
def test_project_list_query_count_is_flat(client, db, django_assert_num_queries, rows):
    org = OrganizationFactory()
    owner = MembershipFactory(org=org, role=Role.OWNER)
    ProjectFactory.create_batch(rows, org=org)
    login(client, owner)
    # session, user, membership+org, projects with both counts, org switcher
    with django_assert_num_queries(5):
        response = client.get(url("project_list", slug=org.slug))
    assert len(response.context["projects"]) == rows
