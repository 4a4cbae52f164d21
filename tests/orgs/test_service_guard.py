"""Every public service of orgs/ refuses an actor from another org (orgs.scoping.require_member).

Over HTTP a foreign org already answers 404 before any service runs; this holds one layer
down, so a refactor that calls a service with the wrong org cannot leak. The services are
found by introspection: any public function of the modules below that takes `org` and an
acting `actor` (a Membership) or `user` is called with the owner of another org, and must
raise ForeignActor and leave every row as it was.
"""

import importlib
import inspect

import pytest
from django.apps import apps
from django.db import transaction

from orgs import services as org_services
from orgs.dispatch import event_fan_out
from orgs.events import event_emit
from orgs.scoping import ForeignActor, require_member
from orgs.sso.models import SSOConnection, VerifiedDomain
from orgs.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

MODULES = ["orgs.services", "orgs.sso.services", "orgs.sso.domains", "orgs.webhooks.services",
           "orgs.notifications.services", "orgs.events", "orgs.reminders", "orgs.dispatch"]
PROJECT_APPS = {"orgs", "projects", "approvals", "evidence", "account", "socialaccount",
                "mfa"}


def acting_services(modules=MODULES) -> list:
    """Public functions that act for someone in an org: they take org and actor or user."""
    found = []
    for name in modules:
        module = importlib.import_module(name)
        for attr, fn in inspect.getmembers(module, inspect.isfunction):
            params = inspect.signature(fn).parameters
            if fn.__module__ == name and not attr.startswith("_") and "org" in params \
                    and ("actor" in params or "user" in params):
                found.append(fn)
    return found


def snapshot() -> dict:
    """Every row of the project's tables, so 'changed nothing' means nothing at all."""
    return {model._meta.label: list(model._base_manager.order_by("pk").values())
            for model in apps.get_models() if model._meta.app_label in PROJECT_APPS}


@pytest.fixture
def world(org_a, personas, outsider):
    """Objects of org A for every argument a service can take, made before the snapshot."""
    owner = personas["owner"]
    invitation, _ = org_services.invitation_create(org=org_a, actor=owner,
                                                   email="new@acme.test", role="member")
    endpoint = WebhookEndpoint.objects.create(org=org_a, url="https://93.184.215.14/hook",
                                              secret_encrypted="x")
    with transaction.atomic():
        event_emit(org=org_a, kind="member.role_changed", payload={"member": "x"})
    [delivery_id] = event_fan_out(org=org_a).deliveries
    return {
        "org": org_a, "actor": outsider, "invitation": invitation,
        "membership": personas["member"], "role": "auditor", "email": "new@acme.test",
        "kind": "oidc", "name": "Acme IdP", "provider_id": "acme-idp", "enabled": False,
        "url": "https://93.184.215.14/other", "choices": {"member": (False, False)},
        "connection": SSOConnection.objects.create(
            org=org_a, kind="oidc", name="IdP", provider_id="acme-oidc",
            issuer_url="https://idp.acme.test", client_id="c"),
        "domain": VerifiedDomain.objects.create(org=org_a, domain="acme.test"),
        "endpoint": endpoint, "delivery": WebhookDelivery.objects.get(pk=delivery_id),
        # Whoever acts through `user` is the outsider; membership_add's user is the new member.
        "user": outsider.user,
        ("membership_add", "user"): UserFactory(email="joiner@acme.test"),
        ("domain_add", "domain"): "globex-owned.test",
    }


def arguments(fn, world) -> dict:
    args = {}
    for name, param in inspect.signature(fn).parameters.items():
        if param.default is not inspect.Parameter.empty or param.kind == param.VAR_KEYWORD:
            continue
        key = (fn.__name__, name) if (fn.__name__, name) in world else name
        if key not in world:
            pytest.fail(f"{fn.__module__}.{fn.__name__} takes {name}: add a value of org A "
                        "to the world fixture so the guard test can call it")
        args[name] = world[key]
    return args


def refusal_problem(fn, world) -> str | None:
    """None when fn, called by the outsider on org A, raised ForeignActor and changed no
    row; otherwise what went wrong."""
    args = arguments(fn, world)
    before = snapshot()
    try:
        fn(**args)  # no transaction of ours: a write before the guard must show
    except ForeignActor as exc:
        if "does not belong to Acme" not in str(exc):
            return f"refused with an unclear message: {exc}"
    except Exception as exc:  # noqa: BLE001 -- anything else is the finding
        return f"raised {type(exc).__name__} ({exc}) instead of ForeignActor"
    else:
        return "was not refused"
    return None if snapshot() == before else "was refused but changed rows"


@pytest.mark.parametrize("service", acting_services(),
                         ids=lambda fn: f"{fn.__module__}.{fn.__name__}")
def test_every_public_service_refuses_an_owner_of_another_org(service, world):
    assert refusal_problem(service, world) is None


def test_the_services_found_are_the_ones_that_act_for_someone():
    names = {fn.__name__ for fn in acting_services()}
    assert {"org_update", "membership_change_role", "security_policy_update",
            "sso_connection_create", "domain_verify_dns", "endpoint_create",
            "delivery_redeliver", "notification_preferences_set"} <= names
    assert len(names) >= 22  # domain_confirm is gone (issue 12.1)


def test_no_service_takes_an_actor_without_the_org_it_acts_on():
    # The guard needs both; a service with an actor and no org would escape the test above.
    for name in MODULES:
        module = importlib.import_module(name)
        for attr, fn in inspect.getmembers(module, inspect.isfunction):
            params = inspect.signature(fn).parameters
            if fn.__module__ == name and not attr.startswith("_") and "actor" in params:
                assert "org" in params, f"{name}.{attr} takes an actor but no org"


# --- the safety net's own proof: planted services it must catch ---------------------------


def planted_unguarded(*, org, actor):
    """Forgot the guard: renames the org for anyone."""
    type(org).objects.filter(pk=org.pk).update(name="Pwned")


def planted_late_guard(*, org, actor):
    """Guards, but only after writing (outside a transaction of its own)."""
    MembershipFactory(org=org, role="owner")
    require_member(org, actor)


def test_the_check_catches_a_service_without_the_guard(world, monkeypatch):
    monkeypatch.setattr(org_services, "planted_unguarded", planted_unguarded, raising=False)
    planted_unguarded.__module__ = "orgs.services"
    assert planted_unguarded in acting_services(["orgs.services"])
    assert refusal_problem(planted_unguarded, world) == "was not refused"


def test_the_check_catches_a_guard_that_comes_after_a_write(world):
    assert refusal_problem(planted_late_guard, world) == "was refused but changed rows"


def test_the_system_may_act_only_where_a_service_allows_it(org_a):
    require_member(org_a, None, system_ok=True)
    with pytest.raises(ForeignActor, match="needs a member of the organization"):
        require_member(org_a, None)


def test_a_member_passes_and_a_user_is_checked_by_membership(personas, outsider, org_a,
                                                            django_assert_num_queries):
    with django_assert_num_queries(0):  # a Membership carries its org
        require_member(org_a, personas["member"])
    with django_assert_num_queries(1):  # a User: one membership lookup
        require_member(org_a, personas["member"].user)
    with pytest.raises(ForeignActor, match="does not belong to Acme"):
        require_member(org_a, outsider.user)
