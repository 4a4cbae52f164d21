from django.core.management.base import BaseCommand, CommandError

from orgs.audit import AuditEvent, verify_chain
from orgs.models import Organization


class Command(BaseCommand):
    help = ("Recompute every org's audit hash chain and report the first tampered or missing "
            "event. Exits non-zero if any chain is broken.")

    def add_arguments(self, parser):
        parser.add_argument("--org", metavar="SLUG", help="Check only this organization.")

    def handle(self, *args, org=None, **options):
        orgs = Organization.objects.order_by("slug")
        if org:
            orgs = orgs.filter(slug=org)
            if not orgs.exists():
                raise CommandError(f"No organization with slug '{org}'.")
        broken = []
        for organization in orgs:
            problem = verify_chain(organization)
            count = AuditEvent.objects.for_org(organization).count()
            if problem:
                broken.append(organization.slug)
                self.stdout.write(self.style.ERROR(f"{organization.slug}: BROKEN: {problem}"))
            else:
                self.stdout.write(self.style.SUCCESS(f"{organization.slug}: ok ({count} events)"))
        if broken:
            raise CommandError(f"Audit chain broken for: {', '.join(broken)}")
