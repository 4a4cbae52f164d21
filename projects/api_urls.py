from django.urls import path

from projects import api, key_api

P = "o/<slug:org_slug>/projects/"
urlpatterns = [
    path(P, api.ProjectList.as_view(), name="api_project_list"),
    path(P + "<uuid:public_id>/", api.ProjectDetail.as_view(), name="api_project_detail"),
    path(P + "<uuid:public_id>/environments/", api.EnvironmentList.as_view(),
         name="api_environment_list"),
    path(P + "<uuid:public_id>/callers/", api.CallerList.as_view(), name="api_caller_list"),
    path(P + "<uuid:public_id>/callers/<uuid:caller_id>/", api.CallerDetail.as_view(),
         name="api_caller_detail"),
    path(P + "<uuid:public_id>/roles/", api.ProjectRoleList.as_view(), name="api_project_roles"),
]

K = "o/<slug:org_slug>/keys/"
urlpatterns += [
    path("oauth/token", key_api.TokenExchange.as_view(), name="api_token_exchange"),
    path(K, key_api.KeyList.as_view(), name="api_key_list"),
    path(K + "report-leaked/", key_api.KeyReportLeaked.as_view(), name="api_key_report_leaked"),
    path(K + "<uuid:public_id>/", key_api.KeyDetail.as_view(), name="api_key_detail"),
    path(K + "<uuid:public_id>/rotate/", key_api.KeyRotate.as_view(), name="api_key_rotate"),
    path(K + "<uuid:public_id>/revoke/", key_api.KeyRevoke.as_view(), name="api_key_revoke"),
    path(P + "<uuid:public_id>/workload-identities/", key_api.IdentityList.as_view(),
         name="api_identity_list"),
    path(P + "<uuid:public_id>/workload-identities/<uuid:identity_id>/",
         key_api.IdentityDetail.as_view(), name="api_identity_detail"),
]
