from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "approvals"

    def ready(self):
        # Connects the receivers: member_removing (services), usage_imported (reconcile).
        from approvals import reconcile, services  # noqa: F401
