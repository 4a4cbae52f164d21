"""Tenant scoping: the only place a query is narrowed to an organization.

`for_org(org)` is the tenant filter. `all_orgs()` is the unscoped escape hatch, allowed
only in migrations, the admin and beat fan-out (tasks). Two safety nets keep it so:
tests/test_scoping_rules.py reads every module's syntax tree for queries on the models
`tenant_models()` lists that no scoping helper narrows, and tests/test_tenancy.py walks
every route with another org's slug and objects.
"""

from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db import models
from django.http import Http404

# The names that narrow a query to one org: the queryset method and the loaders built on
# it. The unscoped-query check accepts a query that passes through one of them.
SCOPING_HELPERS = frozenset({"for_org", "get_for_org_or_404"})


class OrgScopedQuerySet(models.QuerySet):
    def for_org(self, org):
        return self.filter(org=org)

    def all_orgs(self):
        return self.all()


def get_for_org_or_404(model_or_qs, org, **lookup):
    """Load one object of `org`. Missing and foreign objects are the same 404."""
    qs = model_or_qs if isinstance(model_or_qs, models.QuerySet) else model_or_qs.objects.all()
    try:
        return qs.for_org(org).get(**lookup)
    except (qs.model.DoesNotExist, ValueError, TypeError, ValidationError):
        # A malformed UUID in the URL is just another missing object.
        raise Http404(f"No {qs.model._meta.verbose_name} here") from None


class ForeignActor(PermissionDenied):
    """A service was asked to act on an org by someone who is not a member of it."""


def require_member(org, actor, *, system_ok: bool = False):
    """The first line of every public service of orgs/ that acts for someone: refuse
    unless `actor` belongs to `org`, before anything is read or written.

    actor is a Membership (checked by its org, no query) or a User (checked by a
    Membership lookup, one query); None is the system (a task, beat, a signal) and is
    accepted only where the service says so with system_ok. Raises ForeignActor, a
    PermissionDenied, so a view would answer 403; views never get here with a foreign
    actor because the org resolver already answered 404. Audits nothing: the refusal
    changes nothing.
    """
    if actor is None:
        if system_ok:
            return
        raise ForeignActor("This action needs a member of the organization.")
    org_id = getattr(org, "pk", None)
    if getattr(actor, "org_id", None) is not None:  # a Membership
        member = org_id is not None and actor.org_id == org_id
    else:
        from orgs.models import Membership  # orgs.models imports this module

        member = org_id is not None and getattr(actor, "pk", None) is not None and \
            Membership.objects.for_org(org).filter(user=actor).exists()
    if not member:
        raise ForeignActor(f"The acting person does not belong to {org}; nothing was "
                           "changed.")


def is_tenant_model(model) -> bool:
    """True when model rows belong to one org: a field `org` pointing at Organization
    (a foreign key or a one-to-one)."""
    try:
        field = model._meta.get_field("org")
    except FieldDoesNotExist:
        return False
    return bool(field.is_relation and field.related_model
                and field.related_model._meta.label == "orgs.Organization")


def tenant_models() -> list[type[models.Model]]:
    """Every tenant model in the app registry, for the safety nets (tests and checks);
    no query, no side effect."""
    from django.apps import apps

    return [m for m in apps.get_models() if is_tenant_model(m)]
