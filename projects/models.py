import uuid

from django.db import models
from django.utils import timezone
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from orgs.models import SLUG_RULE, Membership, Organization
from orgs.scoping import OrgScopedQuerySet


class Project(models.Model):
    """A team or workload boundary inside an org; keys, quotas and rows live per environment."""

    org = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="projects")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=50, validators=[SLUG_RULE],
                            help_text="Short name used in key prefixes and URLs.")
    description = models.TextField(blank=True, help_text="What the project does with AI models.")
    created_at = models.DateTimeField(default=timezone.now)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["org", "slug"], name="project_org_slug_unique")
        ]
        permissions = [
            ("administer_project", "Administer the project: roles, environments, callers"),
            ("develop_in_project", "Develop in the project: development keys and requests"),
        ]

    def __str__(self):
        return self.name


class ProjectUserObjectPermission(UserObjectPermissionBase):
    """Guardian's direct foreign key table for project roles (no generic relation)."""

    content_object = models.ForeignKey(Project, on_delete=models.CASCADE)


class ProjectGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Project, on_delete=models.CASCADE)


class Environment(models.Model):
    class Tier(models.TextChoices):
        DEVELOPMENT = "development", "Development"
        STAGING = "staging", "Staging"
        PRODUCTION = "production", "Production"

    DEFAULTS = (Tier.DEVELOPMENT, Tier.STAGING, Tier.PRODUCTION)

    org = models.ForeignKey(Organization, on_delete=models.PROTECT)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="environments")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.SlugField(max_length=50, validators=[SLUG_RULE],
                            help_text="Unique within the project, e.g. 'eu-production'.")
    tier = models.CharField(
        max_length=16, choices=Tier.choices, default=Tier.DEVELOPMENT,
        help_text="Decides who may create keys here: staging and production need a project "
        "admin.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="environment_project_name")
        ]

    def __str__(self):
        return f"{self.project.name} / {self.name}"


class Caller(models.Model):
    """Who makes the calls. Every caller has a named owner who is a member of the org."""

    class Kind(models.TextChoices):
        PRODUCTION_SERVICE = "production_service", "Production service"
        AUTOMATION = "automation", "Internal automation or agent"
        SANDBOX = "sandbox", "Developer sandbox"
        MEDIA_WORKFLOW = "media_workflow", "Design or media workflow"
        BATCH_JOB = "batch_job", "Batch job"
        CI_WORKLOAD = "ci_workload", "CI workload"
        VENDOR = "vendor", "Vendor integration"
        HUMAN = "human", "Human user"

    org = models.ForeignKey(Organization, on_delete=models.PROTECT)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="callers")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    owner = models.ForeignKey(
        Membership, on_delete=models.PROTECT, related_name="owned_callers",
        help_text="The member answerable for this caller's traffic.",
    )
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="caller_project_name")
        ]

    def __str__(self):
        return self.name
