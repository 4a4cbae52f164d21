"""Mounted at o/<slug:org_slug>/ by governance/urls.py: the catalog under catalog/, the
evidence list under evidence/ (evidence/item_urls.py), usage and billing imports under
usage/, one namespace."""

from django.urls import include, path

from evidence import gateway_views, views
from evidence.usage import views as usage_views

app_name = "evidence"

catalog_patterns = [
    path("", views.catalog_list, name="catalog_list"),
    path("models/<uuid:public_id>/", views.model_detail, name="model_detail"),
    path("snapshots/", views.snapshot_list, name="snapshot_list"),
    path("snapshots/import/", views.snapshot_import, name="snapshot_import"),
    path("snapshots/<uuid:public_id>/", views.snapshot_detail, name="snapshot_detail"),
    path("imports/<uuid:public_id>/", views.import_job, name="import_job"),
    path("diff/", views.snapshot_diff, name="snapshot_diff"),
    path("refresh/", views.catalog_refresh, name="catalog_refresh"),
]

usage_patterns = [
    path("", usage_views.usage_list, name="usage_list"),
    path("upload/", usage_views.usage_upload, name="usage_upload"),
    path("imports/<uuid:public_id>/", usage_views.usage_import, name="usage_import"),
]

urlpatterns = [
    path("catalog/", include(catalog_patterns)),
    path("usage/", include(usage_patterns)),
    path("evidence/", include("evidence.item_urls")),
    # The smoke-test gateway (evidence/gateway_views.py), among the org's settings.
    path("settings/gateway/", gateway_views.gateway_settings, name="gateway_settings"),
]
