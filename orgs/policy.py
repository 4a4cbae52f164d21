"""The org security policy: one row per org, edited by admins, every change audited.

Issue #3 (SSO) enforces the SSO, session, MFA and invitation-domain rules; issue #4 caps
team API key expiry with max_api_key_days. Personal token age is enforced here already.
"""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from orgs.scoping import OrgScopedQuerySet


class SecurityPolicy(models.Model):
    org = models.OneToOneField("orgs.Organization", on_delete=models.PROTECT,
                               primary_key=True, related_name="security_policy")
    sso_required = models.BooleanField(
        default=False, help_text="Members whose email is in a verified domain must sign in "
        "with SSO. Owners keep a break-glass password login with MFA.")
    mfa_required = models.BooleanField(
        default=False, help_text="Everyone must set up two-factor authentication before "
        "anything else.")
    session_lifetime_minutes = models.PositiveIntegerField(
        default=12 * 60, validators=[MinValueValidator(5), MaxValueValidator(30 * 24 * 60)],
        help_text="A session ends this long after sign-in, whatever happens.")
    idle_timeout_minutes = models.PositiveIntegerField(
        default=0, validators=[MaxValueValidator(7 * 24 * 60)],
        help_text="Sign out after this long without a request. 0 turns it off.")
    invitation_domains = models.TextField(
        blank=True, help_text="Comma-separated email domains invitations may go to. Empty: "
        "any domain.")
    max_personal_token_days = models.PositiveIntegerField(
        default=90, validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="Longest lifetime of a personal API token of a member.")
    max_api_key_days = models.PositiveIntegerField(
        default=90, validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="Longest lifetime of a team API key (issue #4).")
    updated_at = models.DateTimeField(default=timezone.now)

    objects = OrgScopedQuerySet.as_manager()

    def __str__(self):
        return f"Security policy of {self.org_id}"

    def invitation_domain_list(self) -> list[str]:
        return [d.strip().lower().lstrip("@") for d in self.invitation_domains.split(",")
                if d.strip()]


POLICY_FIELDS = ("sso_required", "mfa_required", "session_lifetime_minutes",
                 "idle_timeout_minutes", "invitation_domains", "max_personal_token_days",
                 "max_api_key_days")
