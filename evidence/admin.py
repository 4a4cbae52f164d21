"""Catalog data in the admin, read-only: snapshots are immutable and imports go through
evidence.catalog, which audits them."""

from django.contrib import admin

from evidence.models import CatalogEntry, CatalogSnapshot, ImportJob
from orgs.admin import ReadOnlyAdmin


@admin.register(CatalogSnapshot)
class CatalogSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["source_name", "snapshot_date", "org", "entry_count", "imported_at",
                    "imported_by_label"]
    list_filter = ["format"]
    search_fields = ["source_name", "source_ref", "sha256", "org__slug"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("org")


@admin.register(CatalogEntry)
class CatalogEntryAdmin(ReadOnlyAdmin):
    list_display = ["key", "platform", "family", "availability", "snapshot"]
    list_filter = ["family", "availability"]
    search_fields = ["key", "model_id"]
    list_select_related = ["snapshot"]


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyAdmin):
    list_display = ["source_ref", "org", "status", "created_at", "finished_at"]
    list_filter = ["status"]
    exclude = ["payload"]
    list_select_related = ["org"]
