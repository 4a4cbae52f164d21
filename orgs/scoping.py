"""Tenant scoping: the only place a query is narrowed to an organization.

`for_org(org)` is the tenant filter. `all_orgs()` is the unscoped escape hatch, allowed
only in migrations, the admin and beat fan-out; tests/test_scoping_rules.py greps for it.
"""

from django.core.exceptions import ValidationError
from django.db import models
from django.http import Http404


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
