"""Tenant scoping: the only place a query is narrowed to an organization.

`for_org(org)` is the tenant filter. `all_orgs()` is the unscoped escape hatch, allowed
only in migrations, the admin and beat fan-out; tests/test_scoping_rules.py greps for it.
"""

from django.core.exceptions import PermissionDenied, ValidationError
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
