"""Mounted at o/<slug:org_slug>/projects/ by governance/urls.py."""

from django.urls import path

from projects import views

app_name = "projects"

PROJECT = "<uuid:public_id>/"

urlpatterns = [
    path("", views.project_list, name="project_list"),
    path("new/", views.project_create, name="project_create"),
    path(PROJECT, views.project_detail, name="project_detail"),
    path(PROJECT + "edit/", views.project_edit, name="project_edit"),
    path(PROJECT + "environments/new/", views.environment_create, name="environment_create"),
    path(PROJECT + "callers/new/", views.caller_create, name="caller_create"),
    path(PROJECT + "callers/<uuid:caller_id>/edit/", views.caller_edit, name="caller_edit"),
    path(PROJECT + "roles/", views.project_role_set, name="project_role_set"),
]
