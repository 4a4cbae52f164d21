from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from governance import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="api_schema"), name="api_docs"),
    path("api/v1/redoc/", SpectacularRedocView.as_view(url_name="api_schema"), name="api_redoc"),
    path("api/v1/", include("orgs.api_urls")),
    path("api/v1/", include("projects.api_urls")),
    path("api/v1/", include("orgs.webhooks.api_urls")),
    # Before orgs.urls, whose "Not built yet" placeholder for keys/ it replaces.
    path("o/<slug:org_slug>/", include("projects.urls")),
    path("api/v1/", include("evidence.api_urls")),
    path("api/v1/", include("approvals.api_urls")),
    # Before orgs.urls, whose "Not built yet" placeholder for catalog/ it replaces
    # (catalog/ and evidence/).
    path("o/<slug:org_slug>/", include("evidence.urls")),
    path("o/<slug:org_slug>/", include("approvals.urls")),
    path("", include("orgs.urls")),
    path("o/<slug:org_slug>/settings/webhooks/", include("orgs.webhooks.urls")),
    path("o/<slug:org_slug>/notifications/", include("orgs.notifications.urls")),
]
