import hashlib
import secrets
import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from orgs.audit import AuditChainHead, AuditCheckpoint, AuditEvent  # noqa: F401  (models of this app)
from orgs.events import NotificationEvent  # noqa: F401
from orgs.jobs import JobRun  # noqa: F401
from orgs.notifications.models import Notification, NotificationPreference  # noqa: F401
from orgs.policy import SecurityPolicy  # noqa: F401
from orgs.reminders import Reminder  # noqa: F401
from orgs.roles import Role
from orgs.scoping import OrgScopedQuerySet
from orgs.sso.models import SSOConnection, VerifiedDomain  # noqa: F401
from orgs.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint  # noqa: F401

SLUG_RULE = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$",
    "Use 1-50 lowercase letters, digits and hyphens, starting and ending with a letter or digit.",
)
RESERVED_SLUGS = {"new", "api", "admin", "accounts", "static", "healthz", "o", "settings"}


def hash_secret(secret: str) -> str:
    """SHA-256 of a high-entropy secret. Secrets are compared by hash, never stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create(self, email, password, **extra):
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person. Email is the login; organization roles live on Membership."""

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="May use the Django admin.")
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    def __str__(self):
        return self.email

    def get_full_name(self):
        return self.name or self.email

    def get_short_name(self):
        return self.name or self.email.split("@")[0]


class Organization(models.Model):
    """The tenant: membership, policy, billing and security boundary."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100)
    slug = models.SlugField(
        max_length=50, unique=True, validators=[SLUG_RULE],
        help_text="Used in URLs: /o/<slug>/. Lowercase letters, digits and hyphens.",
    )
    billing_owner = models.ForeignKey(
        "orgs.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The member accountable for the bill.",
    )
    renewal_contact_email = models.EmailField(
        blank=True, help_text="Receives contract and plan renewal notices."
    )
    finance_contact_email = models.EmailField(
        blank=True, help_text="Receives invoices and spend alerts."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Membership(models.Model):
    org = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="memberships")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(default=timezone.now)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["user__email"]
        constraints = [
            models.UniqueConstraint(fields=["org", "user"], name="membership_org_user_unique")
        ]

    def __str__(self):
        return f"{self.user.email} ({self.get_role_display()})"

    def has_scope(self, scope: str) -> bool:
        from orgs.roles import has_scope

        return has_scope(self.role, scope)


class Invitation(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"

    org = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="invitations")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One open invitation per address and org; resend or revoke it instead.
            models.UniqueConstraint(
                fields=["org", "email"], name="invitation_one_open_per_email",
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
            )
        ]

    def __str__(self):
        return f"{self.email} as {self.get_role_display()}"

    @property
    def status(self) -> str:
        if self.accepted_at:
            return self.Status.ACCEPTED
        if self.revoked_at:
            return self.Status.REVOKED
        if self.expires_at <= timezone.now():
            return self.Status.EXPIRED
        return self.Status.PENDING

    @staticmethod
    def new_token() -> tuple[str, str]:
        token = secrets.token_urlsafe(32)
        return token, hash_secret(token)


class PersonalToken(models.Model):
    """A personal API token: acts as its user, in the orgs the user belongs to."""

    PREFIX = "gvp_"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="personal_tokens"
    )
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. 'CI export'.")
    token_prefix = models.CharField(max_length=16)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Ids of the orgs whose SSO the minting session signed in through: in an org that
    # requires SSO of this person, only such a token works (orgs/token_policy.py).
    sso_org_ids = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.token_prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()

    @classmethod
    def new_secret(cls) -> tuple[str, str, str]:
        """(secret, visible prefix, hash). The secret is shown once and never stored."""
        secret = cls.PREFIX + secrets.token_urlsafe(32)
        return secret, secret[:12], hash_secret(secret)
