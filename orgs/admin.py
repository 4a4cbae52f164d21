"""The Django admin, for staff. Tenant data is read-only here: every change to it goes
through a service that writes the audit log, and the admin would bypass that."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from orgs.audit import AuditCheckpoint, AuditEvent
from orgs.events import NotificationEvent
from orgs.jobs import JobRun
from orgs.models import Invitation, Membership, Organization, PersonalToken, User
from orgs.policy import SecurityPolicy
from orgs.sso.models import SSOConnection, VerifiedDomain


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "is_staff", "is_active", "date_joined"]
    search_fields = ["email", "name"]
    fieldsets = [
        (None, {"fields": ["email", "password", "name"]}),
        ("Access", {"fields": ["is_active", "is_staff", "is_superuser"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]
    filter_horizontal = []
    list_filter = ["is_staff", "is_active"]


@admin.register(Organization)
class OrganizationAdmin(ReadOnlyAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdmin):
    list_display = ["user", "org", "role", "created_at"]
    list_filter = ["role"]
    list_select_related = ["user", "org"]
    search_fields = ["user__email", "org__slug"]


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    list_display = ["email", "org", "role", "created_at", "expires_at", "accepted_at",
                    "revoked_at"]
    exclude = ["token_hash"]
    list_select_related = ["org"]


@admin.register(PersonalToken)
class PersonalTokenAdmin(ReadOnlyAdmin):
    list_display = ["name", "user", "token_prefix", "expires_at", "revoked_at", "last_used_at"]
    exclude = ["token_hash"]
    list_select_related = ["user"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["seq", "org", "created_at", "actor_label", "action", "object_type",
                    "object_repr"]
    list_filter = ["action"]
    list_select_related = ["org"]
    search_fields = ["actor_label", "action", "object_id"]


@admin.register(AuditCheckpoint)
class AuditCheckpointAdmin(ReadOnlyAdmin):
    list_display = ["seq", "org", "signed_at", "key_id", "hash"]
    list_select_related = ["org"]


@admin.register(SecurityPolicy)
class SecurityPolicyAdmin(ReadOnlyAdmin):
    list_display = ["org", "sso_required", "mfa_required", "idle_timeout_minutes",
                    "max_api_key_days", "updated_at"]
    list_select_related = ["org"]


@admin.register(NotificationEvent)
class NotificationEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "org", "kind", "severity", "subject_type", "dispatched_at"]
    list_filter = ["kind", "severity"]
    list_select_related = ["org"]


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdmin):
    """Last run, outcome and counts of every periodic job."""

    list_display = ["task", "started_at", "duration_ms", "outcome", "trigger", "result", "error"]
    list_filter = ["task", "outcome", "trigger"]
    date_hierarchy = "started_at"


@admin.register(SSOConnection)
class SSOConnectionAdmin(ReadOnlyAdmin):
    list_display = ["name", "org", "kind", "provider_id", "enabled", "default_role",
                    "updated_at"]
    list_filter = ["kind", "enabled"]
    list_select_related = ["org"]
    exclude = ["client_secret_encrypted"]


@admin.register(VerifiedDomain)
class VerifiedDomainAdmin(ReadOnlyAdmin):
    list_display = ["domain", "org", "verified_at", "method"]
    list_select_related = ["org"]
    exclude = ["txt_token"]
