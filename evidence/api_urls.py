from django.urls import path

from evidence import api

C = "o/<slug:org_slug>/catalog/"
urlpatterns = [
    path(C + "snapshots/", api.SnapshotList.as_view(), name="api_snapshot_list"),
    path(C + "snapshots/<uuid:public_id>/", api.SnapshotDetail.as_view(),
         name="api_snapshot_detail"),
    path(C + "entries/", api.EntryList.as_view(), name="api_entry_list"),
    path(C + "models/<uuid:public_id>/", api.ModelDetail.as_view(), name="api_model_detail"),
    path(C + "diff/", api.Diff.as_view(), name="api_catalog_diff"),
    path(C + "imports/<uuid:public_id>/", api.ImportJobDetail.as_view(),
         name="api_import_job"),
]
