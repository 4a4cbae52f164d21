"""manage.py import_catalog PATH|URL --format litellm|modelsdev|generic --org SLUG

Imports synchronously, as the system (the audit event has no actor), all-or-nothing.
"""

from datetime import date
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from evidence.catalog import catalog_import, fetch_url
from evidence.importers import CatalogFileError, Format
from orgs.models import Organization


class Command(BaseCommand):
    help = "Import a model catalog file or URL as a new dated snapshot of one organization."

    def add_arguments(self, parser):
        parser.add_argument("source", help="A file path or an http(s) URL.")
        parser.add_argument("--format", required=True,
                            choices=[Format.LITELLM, Format.MODELSDEV, Format.GENERIC])
        parser.add_argument("--org", required=True, help="The organization's slug.")
        parser.add_argument("--source-name", default="",
                            help="Diffs compare snapshots of the same source name.")
        parser.add_argument("--date", type=date.fromisoformat, default=None,
                            help="The catalog's date (YYYY-MM-DD); default: from the file "
                            "name, else today.")

    def handle(self, *args, source, format, org, source_name, date, **options):
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"No organization with the slug {org!r}.")
        try:
            if source.startswith(("http://", "https://")):
                data, ref = fetch_url(source), source
            else:
                path = Path(source)
                if not path.is_file():
                    raise CommandError(f"{source} is not a file.")
                data, ref = path.read_bytes(), path.name
            snapshot = catalog_import(org=organization, actor=None, data=data, format=format,
                                      source_ref=ref, source_name=source_name,
                                      snapshot_date=date)
        except CatalogFileError as exc:
            for where, message in exc.errors:
                self.stderr.write(f"  {where}: {message}" if where else f"  {message}")
            raise CommandError(f"Nothing was imported: {exc.summary()}") from None
        skipped = ", ".join(f"{n} {reason}" for reason, n in snapshot.skipped.items())
        self.stdout.write(self.style.SUCCESS(
            f"Imported {snapshot} ({snapshot.public_id}): {snapshot.entry_count} entries"
            + (f"; skipped {skipped}" if skipped else "") + "."))
