"""SSO connections and verified email domains of an org (issue #3).

A connection is one identity provider (OpenID Connect or SAML 2.0). allauth never sees
these rows directly: orgs.sso.adapter builds an in-memory SocialApp from each enabled
connection on every lookup, so a change takes effect on the next request, no restart.
"""

import secrets
import uuid

from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from orgs.roles import Role
from orgs.scoping import OrgScopedQuerySet

PROVIDER_ID_RULE = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$",
    "Use 1-50 lowercase letters, digits and hyphens, starting and ending with a letter or digit.",
)
DOMAIN_RULE = RegexValidator(
    r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
    "Enter a domain such as example.com (lowercase, no @ and no scheme).",
)


class SSOConnection(models.Model):
    class Kind(models.TextChoices):
        OIDC = "oidc", "OpenID Connect"
        SAML = "saml", "SAML 2.0"

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT,
                            related_name="sso_connections")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    name = models.CharField(max_length=100, help_text="Shown on the sign-in button, e.g. "
                                                      "'Acme Okta'.")
    provider_id = models.CharField(
        max_length=50, unique=True, validators=[PROVIDER_ID_RULE],
        help_text="Part of the callback URLs given to the identity provider, e.g. acme-okta. "
        "Lowercase letters, digits and hyphens; it cannot be changed later.")
    enabled = models.BooleanField(default=True)
    default_role = models.CharField(
        max_length=16, choices=Role.choices, default=Role.MEMBER,
        help_text="The role of a person's membership when their first SSO sign-in creates it.")
    group_attribute = models.CharField(
        max_length=200, blank=True, help_text="The claim (OIDC) or attribute (SAML) that lists "
        "the person's groups, e.g. groups. Empty: no group mapping.")
    group_roles = models.JSONField(
        default=dict, blank=True, help_text="{group: role}. Applied at every sign-in; the "
        "highest matching role wins, never above admin.")
    # OpenID Connect
    issuer_url = models.URLField(blank=True, help_text="The issuer; its "
                                 "/.well-known/openid-configuration must answer.")
    client_id = models.CharField(max_length=255, blank=True)
    client_secret_encrypted = models.TextField(blank=True, editable=False)
    scopes = models.CharField(max_length=255, blank=True, default="openid profile email")
    claim_mapping = models.JSONField(
        default=dict, blank=True, help_text="Optional overrides, e.g. {\"uid\": \"sub\"}.")
    # SAML 2.0
    idp_metadata_url = models.URLField(blank=True)
    idp_metadata_xml = models.TextField(blank=True)
    idp_entity_id = models.CharField(max_length=500, blank=True)
    idp_sso_url = models.URLField(max_length=500, blank=True, editable=False)
    idp_x509cert = models.TextField(blank=True, editable=False)
    attribute_mapping = models.JSONField(
        default=dict, blank=True, help_text="{field: attribute name}, fields: uid, email, "
        "email_verified, first_name, last_name.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["org", "enabled"])]

    def __str__(self):
        return f"{self.name} ({self.get_kind_display()})"


class VerifiedDomain(models.Model):
    class Method(models.TextChoices):
        DNS = "dns", "DNS TXT record"
        OPERATOR = "operator", "Pre-verified by the operator"
        # Issue 12.1: an owner's word proved nothing (anybody could claim anybody's domain).
        # Rows verified that way before no longer count for SSO, and the next recheck turns
        # them into DNS-verified domains or un-verifies them.
        OWNER = "owner", "Confirmed by an owner (no longer accepted)"

    # The methods that count: what sign-in, "Continue with SSO" and "SSO required" trust.
    TRUSTED = (Method.DNS, Method.OPERATOR)
    TXT_PREFIX = "governance-verification="

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT,
                            related_name="verified_domains")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    domain = models.CharField(max_length=253, validators=[DOMAIN_RULE])
    txt_token = models.CharField(max_length=64, default=secrets.token_urlsafe, editable=False)
    verified_at = models.DateTimeField(null=True, blank=True)
    method = models.CharField(max_length=8, choices=Method.choices, blank=True)
    # When the scheduled recheck last read the TXT record (orgs/sso/tasks.py); also its
    # claim, so two workers never recheck the same domain in the same round.
    checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["domain"]
        constraints = [
            models.UniqueConstraint(fields=["org", "domain"], name="domain_once_per_org"),
            # A domain belongs to at most one org once verified: the heart of the rule
            # that SSO for org A can never sign in an address of org B's domain.
            models.UniqueConstraint(fields=["domain"], name="domain_verified_once",
                                    condition=models.Q(verified_at__isnull=False)),
        ]

    def __str__(self):
        return self.domain

    @property
    def is_trusted(self) -> bool:
        return self.verified_at is not None and self.method in self.TRUSTED

    @property
    def txt_record(self) -> str:
        return f"{self.TXT_PREFIX}{self.txt_token}"
