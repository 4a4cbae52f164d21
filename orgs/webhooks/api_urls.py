from django.urls import path

from orgs.webhooks import api

W = "o/<slug:org_slug>/webhooks/"
urlpatterns = [
    path(W, api.EndpointList.as_view(), name="api_webhook_list"),
    path(W + "<uuid:public_id>/", api.EndpointDetail.as_view(), name="api_webhook_detail"),
    path(W + "<uuid:public_id>/rotate-secret/", api.EndpointRotate.as_view(),
         name="api_webhook_rotate"),
    path(W + "<uuid:public_id>/test/", api.EndpointTest.as_view(), name="api_webhook_test"),
    path(W + "<uuid:public_id>/deliveries/", api.DeliveryList.as_view(),
         name="api_webhook_deliveries"),
    path(W + "<uuid:public_id>/deliveries/<uuid:delivery_id>/redeliver/",
         api.DeliveryRedeliver.as_view(), name="api_webhook_redeliver"),
]
