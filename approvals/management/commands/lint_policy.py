"""manage.py lint_policy --org SLUG [--format text|json]

Runs the policy linter (approvals/lint.py) over one organization's unfinished rows.
Exits 1 when any finding is an error (warnings alone exit 0), so CI can gate on it;
an unknown organization is a CommandError (exit 1) naming the slug.
"""

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from approvals.lint import ERROR, RULES, lint_org
from orgs.models import Organization


class Command(BaseCommand):
    help = ("Lint one organization's approval matrix against the rules the product "
            "enforces. Exits 1 when any finding is an error.")

    def add_arguments(self, parser):
        parser.add_argument("--org", metavar="SLUG", required=True,
                            help="The organization's slug.")
        parser.add_argument("--format", choices=["text", "json"], default="text",
                            help="text for people, json for machines (default: text).")

    def handle(self, *args, org, format, **options):
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"No organization with slug '{org}'.")
        findings = lint_org(org=organization)
        errors = sum(f.severity == ERROR for f in findings)
        warnings = len(findings) - errors
        if format == "json":
            self.stdout.write(json.dumps({
                "org": organization.slug, "errors": errors, "warnings": warnings,
                "findings": [f.as_dict() for f in findings]}, indent=2))
        else:
            self._text(organization, findings, errors, warnings)
        if errors:
            # Not CommandError: the report is already printed; only the exit code remains.
            sys.exit(1)

    def _text(self, organization, findings, errors, warnings):
        for f in findings:
            style = self.style.ERROR if f.severity == ERROR else self.style.WARNING
            self.stdout.write(style(f"{f.severity.upper():7} {f.rule} "
                                    f"({RULES[f.rule].title}) row {f.row}"))
            self.stdout.write(f"        {f.message}")
            self.stdout.write(f"        Fix: {f.fix}")
        summary = f"{organization.slug}: {errors} error(s), {warnings} warning(s)."
        self.stdout.write(self.style.ERROR(summary) if errors else
                          self.style.SUCCESS(summary))
