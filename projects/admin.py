from django.contrib import admin

from orgs.admin import ReadOnlyAdmin
from projects.models import ApiKey, Caller, Environment, Project, WorkloadIdentity


@admin.register(Project)
class ProjectAdmin(ReadOnlyAdmin):
    list_display = ["name", "slug", "org", "created_at"]
    list_select_related = ["org"]
    search_fields = ["name", "slug"]


@admin.register(Environment)
class EnvironmentAdmin(ReadOnlyAdmin):
    list_display = ["name", "tier", "project", "org"]
    list_select_related = ["project", "org"]


@admin.register(Caller)
class CallerAdmin(ReadOnlyAdmin):
    list_display = ["name", "kind", "project", "owner", "org"]
    list_select_related = ["project", "org", "owner__user"]


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    list_display = ["name", "prefix", "environment", "caller", "expires_at", "revoked_at", "org"]
    list_select_related = ["environment__project", "caller", "org"]
    search_fields = ["name", "prefix"]
    exclude = ["secret_hash"]


@admin.register(WorkloadIdentity)
class WorkloadIdentityAdmin(ReadOnlyAdmin):
    list_display = ["name", "issuer", "audience", "pattern", "environment", "caller", "org"]
    list_select_related = ["environment__project", "caller", "org"]
