"""Tenant scoping: the only place a query is narrowed to an organization.

`for_org(org)` is the tenant filter. `all_orgs()` is the unscoped escape hatch, allowed
only in migrations, the admin and beat fan-out (tasks). Two safety nets keep it so:
tests/test_scoping_rules.py reads every module's syntax tree for queries on the models
`tenant_models()` lists that no scoping helper narrows, and tests/test_tenancy.py walks
every route with another org's slug and objects.
"""

from django.core.exceptions import FieldDoesNotExist, ValidationError
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
