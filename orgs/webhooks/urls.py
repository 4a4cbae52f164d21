from django.urls import path

from orgs.webhooks import views

app_name = "webhooks"
urlpatterns = [
    path("", views.endpoint_list, name="endpoint_list"),
    path("<uuid:public_id>/", views.endpoint_detail, name="endpoint_detail"),
    path("<uuid:public_id>/rotate/", views.endpoint_rotate, name="endpoint_rotate"),
    path("<uuid:public_id>/toggle/", views.endpoint_toggle, name="endpoint_toggle"),
    path("<uuid:public_id>/delete/", views.endpoint_delete, name="endpoint_delete"),
    path("<uuid:public_id>/test/", views.endpoint_test, name="endpoint_test"),
    path("<uuid:public_id>/deliveries/<uuid:delivery_id>/redeliver/",
         views.delivery_redeliver, name="delivery_redeliver"),
]
