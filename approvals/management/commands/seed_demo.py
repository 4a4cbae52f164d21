# Lives in approvals/, the top app, because demo data spans every app below it.
from pathlib import Path

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from approvals.demo import seed_rows, seed_usage
from evidence.catalog import catalog_import
from orgs.models import Membership, Organization, User
from orgs.roles import Role
from orgs.services import membership_add, org_create
from projects.keys import key_create
from projects.models import Caller
from projects.services import caller_create, project_create, project_role_set

DEMO_PASSWORD = "governance-demo"
# Two LiteLLM catalogs six months apart, so the catalog has a diff to show: the full real
# files when shared/data sits beside the checkout (as in CI), else the slices the tests use.
CATALOGS = ["litellm-model-catalog-2026-05-17-v1.85.0.json",
            "litellm-model-catalog-2026-11-12-v1.109.1.json"]
SLICES = ["litellm-slice-2026-05-17-v1.85.0.json", "litellm-slice-2026-11-12-v1.109.1.json"]
DOMAIN = "acme.example"
PROJECTS = [
    ("Support Assistant", "support-assistant",
     "Answers customer support tickets with a chat model; drafts replies for agents.",
     [("support-api", Caller.Kind.PRODUCTION_SERVICE, Role.MEMBER),
      ("support-eval-ci", Caller.Kind.CI_WORKLOAD, Role.ADMIN)]),
    ("Marketing Studio", "marketing-studio",
     "Generates campaign images and copy; nightly batch summaries of campaign results.",
     [("design-studio", Caller.Kind.MEDIA_WORKFLOW, Role.MEMBER),
      ("campaign-batch", Caller.Kind.BATCH_JOB, Role.ADMIN)]),
]


class Command(BaseCommand):
    help = "Create the demo organization 'Acme' with one user per role, two projects, keys, " \
           "two catalog snapshots and an approval matrix with a row in every state. Safe " \
           "to run again: existing data is left as it is."

    def handle(self, *args, **options):
        if not Organization.objects.filter(slug="acme").exists():
            self._seed()
            self.stdout.write(self.style.SUCCESS("Created the demo organization 'Acme'."))
        else:
            self.stdout.write("The demo organization 'Acme' exists already; nothing changed.")
        self._staff()
        self.stdout.write(f"\nSign in at /accounts/login/ with any of these (password "
                          f"'{DEMO_PASSWORD}'):")
        for role in Role:
            self.stdout.write(f"  {role.value:9} {role.value}@{DOMAIN}")
        self.stdout.write(f"  Django admin (/admin/): staff@{DOMAIN}")

    def _user(self, email, **extra):
        user, created = User.objects.get_or_create(email=email, defaults=extra)
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        EmailAddress.objects.get_or_create(
            user=user, email=email, defaults={"verified": True, "primary": True})
        return user

    @transaction.atomic
    def _seed(self):
        owner_user = self._user(f"owner@{DOMAIN}", name="Olivia Owner")
        org = org_create(user=owner_user, name="Acme", slug="acme",
                         renewal_contact_email=f"procurement@{DOMAIN}",
                         finance_contact_email=f"finance@{DOMAIN}")
        owner = Membership.objects.for_org(org).get(user=owner_user)
        members = {Role.OWNER: owner}
        for role in Role:
            if role != Role.OWNER:
                user = self._user(f"{role.value}@{DOMAIN}", name=f"{role.label} (demo)")
                members[role] = membership_add(org=org, actor=owner, user=user, role=role)
        for name, slug, description, callers in PROJECTS:
            project = project_create(org=org, actor=owner, name=name, slug=slug,
                                     description=description)
            project_role_set(org=org, actor=owner, project=project,
                             membership=members[Role.MEMBER], role="developer")
            for caller_name, kind, owner_role in callers:
                caller_create(org=org, actor=owner, project=project, name=caller_name,
                              kind=kind, owner=members[owner_role])
        self._keys(org, owner)
        self._catalogs(org, owner)
        self._matrix(org, members)

    def _keys(self, org, owner):
        """A production and a development key; the development one expires in 5 days, so
        the hourly reminder job has something to say soon after start-up."""
        project = org.projects.get(slug="support-assistant")
        caller = project.callers.get(name="support-api")
        for tier, days in (("production", 90), ("development", 5)):
            key_create(org=org, actor=owner, project=project,
                       environment=project.environments.get(name=tier), caller=caller,
                       name=f"support-api {tier}", expires_in_days=days)

    def _matrix(self, org, members):
        """The approval matrix in every state (approvals/demo.py), with a few lint findings.
        One engineering owner is a former employee whose account was then deactivated."""
        former = membership_add(org=org, actor=members[Role.OWNER],
                                user=self._user(f"former.engineer@{DOMAIN}",
                                                name="Former Engineer"), role=Role.MEMBER)
        rows = seed_rows(org=org, members=members, former_engineer=former)
        usage, _ = seed_usage(org=org, members=members)
        User.objects.filter(pk=former.user_id).update(is_active=False)
        states = ", ".join(sorted({row.get_status_display().lower() for row in rows.values()}))
        self.stdout.write(f"Created {len(rows)} policy rows in these states: {states}.")
        self.stdout.write(f"Pushed {usage.report.get('added', 0)} usage lines and a billing "
                          "line of this month; reconciling them raises the demo's findings.")

    def _catalogs(self, org, owner):
        shared = Path(settings.BASE_DIR).parent / "shared" / "data"
        slices = Path(settings.BASE_DIR) / "tests" / "evidence" / "data"
        files = [shared / n for n in CATALOGS] if (shared / CATALOGS[0]).exists() \
            else [slices / n for n in SLICES]
        for path in files:
            catalog_import(org=org, actor=owner, data=path.read_bytes(), format="litellm",
                           source_ref=path.name)
        self.stdout.write(f"Imported {len(files)} LiteLLM catalog snapshots from "
                          f"{files[0].parent}.")

    def _staff(self):
        user = self._user(f"staff@{DOMAIN}", name="Staff (Django admin)")
        if not user.is_staff:
            User.objects.filter(pk=user.pk).update(is_staff=True, is_superuser=True)
