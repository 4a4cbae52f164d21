from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "approvals"

    def ready(self):
        # Connects the receivers on import: member_removing (services), usage_imported
        # (reconcile).
        from approvals import catalog_triggers, reconcile, services  # noqa: F401
        from evidence.signals import catalog_imported

        # A new catalog snapshot raises findings on the rows approving changed models and
        # reopens them for renewal, inside the import's transaction.
        catalog_imported.connect(catalog_triggers.on_catalog_imported,
                                 dispatch_uid="approvals.catalog_triggers")
