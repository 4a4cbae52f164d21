"""manage.py verify_evidence_pack FILE

Checks an evidence pack (approvals/packs/) against its manifest.json: every listed file
is in the ZIP with the listed SHA-256, none is missing, nothing unlisted is present, and
the builder recorded no problem. Prints one line per problem and a summary. Exits 0 when
everything matches, 1 on any problem (CommandError), 2 when FILE is not a pack at all.
Needs no database, so a pack can be checked on any machine with the code.
"""

import zipfile

from django.core.management.base import BaseCommand, CommandError

from approvals.packs.verify import verify_pack


class Command(BaseCommand):
    help = ("Verify an evidence pack ZIP: every file's SHA-256 against manifest.json. "
            "Exits non-zero on any mismatch, missing or unlisted file.")
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE", help="The evidence pack (.zip).")

    def handle(self, *args, file, **options):
        try:
            report = verify_pack(file)
        except FileNotFoundError:
            raise CommandError(f"{file}: no such file", returncode=2) from None
        except (zipfile.BadZipFile, ValueError) as exc:
            raise CommandError(f"{file}: {exc}", returncode=2) from None
        manifest = report.manifest
        subject, org = manifest.get("subject") or {}, manifest.get("org") or {}
        self.stdout.write(f"Pack {manifest.get('pack', '?')} of {org.get('slug', '?')}: "
                          f"{subject.get('name', '?')}, generated "
                          f"{manifest.get('generated_at', '?')}")
        for problem in report.problems:
            self.stdout.write(f"PROBLEM {problem}")
        if report.problems:
            raise CommandError(f"{len(report.problems)} problem(s); {report.checked} file(s) "
                               "checked. This pack does not verify.", returncode=1)
        self.stdout.write(self.style.SUCCESS(
            f"OK: {report.checked} file(s) match the manifest "
            f"({len(manifest.get('items', []))} evidence items)."))
