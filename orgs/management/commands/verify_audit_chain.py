from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from orgs.audit import AuditEvent, audit_problems, checkpoint_file_read
from orgs.audit.checkpoints import trusted_keys
from orgs.audit.signing import AuditKeyError, key_id, public_key_from_text
from orgs.models import Organization


class Command(BaseCommand):
    help = ("Recompute every org's audit hash chain and check it against the signed "
            "checkpoints (database rows and the checkpoint file). Reports every tampered, "
            "missing or cut event and exits 1 if anything is wrong.")

    def add_arguments(self, parser):
        parser.add_argument("--org", metavar="SLUG", help="Check only this organization.")
        parser.add_argument(
            "--public-key", metavar="FILE", action="append", default=[],
            help="Trust this Ed25519 public key (PEM or base64; repeatable) instead of the "
                 "configured signing key: what an auditor without the private key does.")
        parser.add_argument(
            "--checkpoint-file", metavar="FILE",
            help="The copy of the checkpoints to compare with (default: AUDIT_CHECKPOINT_FILE).")
        parser.add_argument(
            "--no-checkpoints", action="store_true",
            help="Check the hash chain only. It then cannot see an edit whose later hashes "
                 "were recomputed, nor a cut tail whose head was moved back.")

    def handle(self, *args, org=None, public_key=(), checkpoint_file=None,
               no_checkpoints=False, **options):
        orgs = Organization.objects.order_by("slug")
        if org:
            orgs = orgs.filter(slug=org)
            if not orgs.exists():
                raise CommandError(f"No organization with slug '{org}'.")
        keys = {} if no_checkpoints else self._keys(public_key)
        path = checkpoint_file or settings.AUDIT_CHECKPOINT_FILE
        by_org, file_problems = checkpoint_file_read(path) if keys else ({}, [])
        broken = []
        for organization in orgs:
            problems = audit_problems(organization, keys=keys,
                                      file_entries=by_org.get(organization.pk, []),
                                      file_problems=tuple(file_problems))
            if problems:
                broken.append(organization.slug)
                for problem in problems:
                    self.stdout.write(self.style.ERROR(f"{organization.slug}: BROKEN: {problem}"))
            else:
                count = AuditEvent.objects.for_org(organization).count()
                self.stdout.write(self.style.SUCCESS(f"{organization.slug}: ok ({count} events)"))
        if no_checkpoints:
            self.stdout.write(self.style.WARNING("Checkpoints not checked (--no-checkpoints)."))
        if broken:
            raise CommandError(f"Audit log broken for: {', '.join(broken)}")

    def _keys(self, files) -> dict:
        if not files:
            keys = trusted_keys()
            if not keys:
                raise CommandError(
                    "No key to check checkpoints with: set AUDIT_SIGNING_KEY (or "
                    "AUDIT_SIGNING_KEY_FILE), pass --public-key FILE, or --no-checkpoints.")
            return keys
        keys = {}
        for name in files:
            try:
                key = public_key_from_text(Path(name).read_text(encoding="ascii"))
            except (OSError, UnicodeDecodeError, AuditKeyError) as exc:
                raise CommandError(f"--public-key {name}: {exc}") from None
            keys[key_id(key)] = key
        return keys
