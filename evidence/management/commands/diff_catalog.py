"""manage.py diff_catalog OLD NEW [--format json] [--org SLUG]

OLD and NEW are snapshot ids. Without --org the org is the one that owns OLD (operators
running manage.py see every org); NEW must belong to the same org.
"""

import json
import uuid

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from evidence.diff import Change, catalog_diff
from evidence.models import CatalogSnapshot
from orgs.models import Organization


class Command(BaseCommand):
    help = "Compare two catalog snapshots of the same source."

    def add_arguments(self, parser):
        parser.add_argument("old", help="The older snapshot's id.")
        parser.add_argument("new", help="The newer snapshot's id.")
        parser.add_argument("--format", choices=["text", "json"], default="text")
        parser.add_argument("--org", default="", help="The organization's slug.")

    def _snapshot(self, org, public_id):
        try:
            return CatalogSnapshot.objects.for_org(org).get(public_id=public_id)
        except (CatalogSnapshot.DoesNotExist, ValidationError, ValueError):
            raise CommandError(f"No snapshot {public_id} in {org.slug}.") from None

    def handle(self, *args, old, new, format, org, **options):
        orgs = Organization.objects.filter(slug=org) if org else \
            Organization.objects.filter(catalog_snapshots__public_id=_uuid(old))
        organization = orgs.first()
        if organization is None:
            raise CommandError(f"No organization {org!r}." if org else f"No snapshot {old}.")
        before, after = self._snapshot(organization, old), self._snapshot(organization, new)
        try:
            result = catalog_diff(org=organization, old=before, new=after)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        if format == "json":
            self.stdout.write(json.dumps(result.as_dict(), indent=2))
            return
        self.stdout.write(f"{before} -> {after}")
        for kind, n in result.counts.items():
            self.stdout.write(f"  {Change.LABELS[kind]:<24} {n:>6}")
        self.stdout.write("By family:")
        for family, row in result.grouped("family").items():
            self.stdout.write(f"  {family:<24} " + ", ".join(f"{k} {n}" for k, n in row.items()))


def _uuid(value: str):
    try:
        return uuid.UUID(value)
    except ValueError:
        raise CommandError(f"{value} is not a snapshot id.") from None
