"""Mounted at o/<slug:org_slug>/catalog/ by governance/urls.py."""

from django.urls import path

from evidence import views

app_name = "evidence"

urlpatterns = [
    path("", views.catalog_list, name="catalog_list"),
    path("models/<uuid:public_id>/", views.model_detail, name="model_detail"),
    path("snapshots/", views.snapshot_list, name="snapshot_list"),
    path("snapshots/import/", views.snapshot_import, name="snapshot_import"),
    path("snapshots/<uuid:public_id>/", views.snapshot_detail, name="snapshot_detail"),
    path("imports/<uuid:public_id>/", views.import_job, name="import_job"),
    path("diff/", views.snapshot_diff, name="snapshot_diff"),
]
