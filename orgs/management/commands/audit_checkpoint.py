from django.core.management.base import BaseCommand, CommandError

from orgs.audit import ChainBroken, CheckpointsOff, audit_checkpoint_create
from orgs.audit.signing import public_key_pem, signing_key
from orgs.models import Organization


class Command(BaseCommand):
    help = ("Sign every org's audit chain head now (the scheduled task does it every 15 "
            "minutes) and append the checkpoints to AUDIT_CHECKPOINT_FILE. Exits 1 if a "
            "chain no longer extends its last checkpoint.")

    def add_arguments(self, parser):
        parser.add_argument("--org", metavar="SLUG", help="Only this organization.")
        parser.add_argument("--public-key", action="store_true",
                            help="Print the signing key's public half (PEM) for auditors, "
                                 "and sign nothing.")

    def handle(self, *args, org=None, public_key=False, **options):
        key = signing_key()
        if key is None:
            raise CommandError("AUDIT_SIGNING_KEY (or AUDIT_SIGNING_KEY_FILE) is not set: "
                               "checkpoints are off (docs/audit-log.md).")
        if public_key:
            self.stdout.write(public_key_pem(key.public_key()), ending="")
            return
        orgs = Organization.objects.order_by("slug")
        if org:
            orgs = orgs.filter(slug=org)
            if not orgs.exists():
                raise CommandError(f"No organization with slug '{org}'.")
        refused = [o.slug for o in orgs if not self._sign(o)]
        if refused:
            raise CommandError(f"Not signed, the chain is broken: {', '.join(refused)}")

    def _sign(self, org) -> bool:
        try:
            checkpoint = audit_checkpoint_create(org=org)
        except ChainBroken as exc:
            self.stdout.write(self.style.ERROR(f"{org.slug}: NOT SIGNED: {exc}"))
            return False
        except CheckpointsOff as exc:
            raise CommandError(str(exc)) from None
        if checkpoint is None:
            self.stdout.write(f"{org.slug}: unchanged since the last checkpoint")
        else:
            self.stdout.write(self.style.SUCCESS(
                f"{org.slug}: signed #{checkpoint.seq} ({checkpoint.hash[:16]}...)"))
        return True
