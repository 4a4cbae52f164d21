from django.contrib import admin

from approvals.models import DenyRule, PolicyRow, SignOff
from orgs.admin import ReadOnlyAdmin


@admin.register(PolicyRow)
class PolicyRowAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "org", "project", "environment", "caller", "status", "version",
                    "renewal_date"]
    list_filter = ["status"]
    list_select_related = ["org", "project", "environment", "caller"]


@admin.register(SignOff)
class SignOffAdmin(ReadOnlyAdmin):
    list_display = ["row", "role", "decision", "row_version", "signed_at", "voided_at"]
    list_filter = ["role", "decision"]
    list_select_related = ["row"]


@admin.register(DenyRule)
class DenyRuleAdmin(ReadOnlyAdmin):
    list_display = ["org", "platform", "model_id", "action", "data_class", "active"]
    list_filter = ["active"]
    list_select_related = ["org"]
