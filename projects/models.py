import uuid

from django.conf import settings
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


class ApiKey(models.Model):
    """A team API key: one project, one environment, one caller. Only an HMAC of the secret
    is stored (projects/secrets.py); `prefix` is the visible start of the secret."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        ROTATING = "rotating", "Rotating (old secret in overlap)"
        EXPIRED = "expired", "Expired"
        REVOKED = "revoked", "Revoked"

    org = models.ForeignKey(Organization, on_delete=models.PROTECT)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="api_keys")
    environment = models.ForeignKey(Environment, on_delete=models.PROTECT,
                                    related_name="api_keys")
    caller = models.ForeignKey(Caller, on_delete=models.PROTECT, related_name="api_keys")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100, help_text="What the key is for, e.g. 'support-api "
                            "production'.")
    prefix = models.CharField(max_length=24, help_text="The visible start of the secret.")
    secret_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    rotated_from = models.OneToOneField("self", null=True, blank=True,
                                        on_delete=models.PROTECT, related_name="successor")
    rotated_at = models.DateTimeField(null=True, blank=True)
    # The first key's public id, copied to every successor on rotation: approval rows bind
    # to a key by lineage, so a rotated key keeps the rows of the key it replaced (for the
    # decision matrix a successor is the same credential) without re-signing any row.
    lineage = models.UUIDField(editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=500, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    # Set by the expiry sweep once key.expired was emitted, so it is emitted once.
    expiry_notified_at = models.DateTimeField(null=True, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["org", "expires_at"]),
                   models.Index(fields=["org", "project", "environment"]),
                   models.Index(fields=["org", "lineage"], name="projects_apikey_org_lineage")]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    def save(self, *args, **kwargs):
        # A key minted without a predecessor starts its own lineage (keys.key_rotate sets
        # the predecessor's lineage on a successor before saving it).
        if self.lineage is None:
            self.lineage = self.public_id
        super().save(*args, **kwargs)

    @property
    def status(self) -> str:
        if self.revoked_at:
            return self.Status.REVOKED
        if self.expires_at <= timezone.now():
            return self.Status.EXPIRED
        if self.rotated_at:
            return self.Status.ROTATING
        return self.Status.ACTIVE


class WorkloadIdentity(models.Model):
    """An external issuer + audience + subject rule mapped to one caller in one project
    environment. A matching OIDC token is exchanged for a short-lived credential."""

    class Match(models.TextChoices):
        EXACT = "exact", "Exact match"
        GLOB = "glob", "Glob (* matches any run of characters)"

    org = models.ForeignKey(Organization, on_delete=models.PROTECT)
    project = models.ForeignKey(Project, on_delete=models.PROTECT,
                                related_name="workload_identities")
    environment = models.ForeignKey(Environment, on_delete=models.PROTECT, related_name="+")
    caller = models.ForeignKey(Caller, on_delete=models.PROTECT, related_name="+")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100)
    issuer = models.URLField(max_length=300, help_text="The token's 'iss', e.g. "
                             "https://token.actions.githubusercontent.com")
    jwks_url = models.URLField(max_length=300, blank=True, help_text="Leave empty to find it "
                               "through the issuer's OIDC discovery document.")
    audience = models.CharField(max_length=300, help_text="The 'aud' the token must carry.")
    claim = models.CharField(max_length=64, default="sub",
                             help_text="The claim the rule matches, usually 'sub'.")
    match = models.CharField(max_length=8, choices=Match.choices, default=Match.EXACT)
    pattern = models.CharField(max_length=300, help_text="e.g. "
                               "repo:acme/app:ref:refs/heads/main")
    token_lifetime_seconds = models.PositiveIntegerField(default=900)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["issuer"])]

    def __str__(self):
        return self.name


class WorkloadToken(models.Model):
    """A short-lived credential minted by a token exchange. (issuer, jti) is unique: the
    database refuses a replayed subject token in every process at once."""

    org = models.ForeignKey(Organization, on_delete=models.PROTECT)
    identity = models.ForeignKey(WorkloadIdentity, null=True, on_delete=models.SET_NULL,
                                 related_name="tokens")
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="+")
    environment = models.ForeignKey(Environment, on_delete=models.PROTECT, related_name="+")
    caller = models.ForeignKey(Caller, on_delete=models.PROTECT, related_name="+")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, unique=True)
    issuer = models.CharField(max_length=300)
    jti = models.CharField(max_length=255)
    subject = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["issuer", "jti"],
                                               name="workload_token_issuer_jti")]

    def __str__(self):
        return f"{self.subject} ({self.issuer})"
