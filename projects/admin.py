from django.contrib import admin

from orgs.admin import ReadOnlyAdmin
from projects.models import Caller, Environment, Project


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
