"""Mounted at o/<slug:org_slug>/ by governance/urls.py (before orgs' placeholder pages)."""

from django.urls import path

from projects import key_views, views

app_name = "projects"

PROJECT = "projects/<uuid:public_id>/"
KEY = "keys/<uuid:public_id>/"

urlpatterns = [
    path("projects/", views.project_list, name="project_list"),
    path("projects/new/", views.project_create, name="project_create"),
    path(PROJECT, views.project_detail, name="project_detail"),
    path(PROJECT + "edit/", views.project_edit, name="project_edit"),
    path(PROJECT + "environments/new/", views.environment_create, name="environment_create"),
    path(PROJECT + "callers/new/", views.caller_create, name="caller_create"),
    path(PROJECT + "callers/<uuid:caller_id>/edit/", views.caller_edit, name="caller_edit"),
    path(PROJECT + "roles/", views.project_role_set, name="project_role_set"),
    path(PROJECT + "workload-identities/", key_views.identity_list, name="identity_list"),
    path(PROJECT + "workload-identities/<uuid:identity_id>/delete/", key_views.identity_delete,
         name="identity_delete"),
    path("keys/", key_views.key_list, name="key_list"),
    path("keys/new/", key_views.key_create, name="key_create"),
    path("keys/leaked/", key_views.key_report_leaked, name="key_report_leaked"),
    path(KEY, key_views.key_detail, name="key_detail"),
    path(KEY + "rotate/", key_views.key_rotate, name="key_rotate"),
    path(KEY + "revoke/", key_views.key_revoke, name="key_revoke"),
]
