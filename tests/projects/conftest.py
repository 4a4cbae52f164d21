"""Fixtures for keys and workload identities: project-role personas on project A, and a
clean per-process credential cache for every test."""

import uuid

import pytest
from guardian.shortcuts import assign_perm

from orgs.roles import Role
from projects import credentials
from projects.credentials import clear_local_cache
from projects.roles import PERMS
from projects.services import project_role_set
from tests.factories import MembershipFactory


@pytest.fixture(autouse=True)
def _fresh_credential_cache(monkeypatch):
    # A generation counter of this test's own: revocations made by tests running in other
    # processes on the same Redis must not empty this test's cache behind its back.
    monkeypatch.setattr(credentials, "GENERATION_KEY",
                        f"projects:credentials:generation:test-{uuid.uuid4().hex}")
    clear_local_cache()
    yield
    clear_local_cache()


@pytest.fixture
def envs(project_a):
    return {env.tier: env for env in project_a.environments.all()}


# (persona name, org role, project role on project A)
PROJECT_PERSONAS = [
    ("org_owner", Role.OWNER, None),
    ("org_admin", Role.ADMIN, None),
    ("project_admin", Role.MEMBER, "admin"),
    ("developer", Role.MEMBER, "developer"),
    ("viewer", Role.MEMBER, "viewer"),
    ("no_role", Role.MEMBER, None),
    ("security_admin", Role.SECURITY, "admin"),
    ("finance_developer", Role.FINANCE, "developer"),
    ("auditor_admin", Role.AUDITOR, "admin"),
]


@pytest.fixture
def people(org_a, owner, project_a):
    """{persona name: Membership} in org A, with the project role on project A."""
    result = {}
    for name, role, project_role in PROJECT_PERSONAS:
        member = MembershipFactory(org=org_a, role=role, user__email=f"{name}@acme.test")
        if project_role and role == Role.AUDITOR:
            # project_role_set refuses it (issue #13): planted, as a role held from before
            # a demotion to auditor, to prove it grants nothing.
            for codename in PERMS[project_role]:
                assign_perm(f"projects.{codename}", member.user, project_a)
        elif project_role:
            project_role_set(org=org_a, actor=owner, project=project_a, membership=member,
                             role=project_role)
        result[name] = member
    return result


def make_key(org, actor, env, caller, **kwargs):
    from projects.keys import key_create

    return key_create(org=org, actor=actor, project=env.project, environment=env,
                      caller=caller, name=kwargs.pop("name", "test key"), **kwargs)
