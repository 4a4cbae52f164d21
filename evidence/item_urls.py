"""The org-wide evidence list, at o/<slug:org_slug>/evidence/ (included by evidence/urls.py
in the evidence namespace)."""

from django.urls import path

from evidence import item_views

urlpatterns = [
    path("", item_views.item_list, name="item_list"),
]
