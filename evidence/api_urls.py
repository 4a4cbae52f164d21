from django.urls import path

from evidence import api
from evidence.usage import api as usage_api

C = "o/<slug:org_slug>/catalog/"
U = "o/<slug:org_slug>/usage/"
urlpatterns = [
    path(C + "snapshots/", api.SnapshotList.as_view(), name="api_snapshot_list"),
    path(C + "snapshots/<uuid:public_id>/", api.SnapshotDetail.as_view(),
         name="api_snapshot_detail"),
    path(C + "entries/", api.EntryList.as_view(), name="api_entry_list"),
    path(C + "models/<uuid:public_id>/", api.ModelDetail.as_view(), name="api_model_detail"),
    path(C + "diff/", api.Diff.as_view(), name="api_catalog_diff"),
    path(C + "imports/<uuid:public_id>/", api.ImportJobDetail.as_view(),
         name="api_import_job"),
    path(U + "lines/", usage_api.UsageBatch.as_view(), name="api_usage_batch"),
    path(U + "billing-lines/", usage_api.BillingBatch.as_view(), name="api_billing_batch"),
    path(U + "imports/", usage_api.ImportList.as_view(), name="api_usage_import_list"),
    path(U + "imports/<uuid:public_id>/", usage_api.ImportDetail.as_view(),
         name="api_usage_import"),
    path(U + "records/", usage_api.RecordList.as_view(), name="api_usage_record_list"),
]
