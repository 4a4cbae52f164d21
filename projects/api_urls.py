from django.urls import path

from projects import api

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
