from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from governance import health

# Under /api/ these answer JSON, elsewhere Django's pages (orgs/api_errors.py).
handler400 = "orgs.api_errors.bad_request"
handler403 = "orgs.api_errors.permission_denied"
handler404 = "orgs.api_errors.page_not_found"
handler500 = "orgs.api_errors.server_error"
# The schema and doc pages answer GET only: DRF's OPTIONS on the pages rendered a
# template-less 500, and on the schema a YAML description of the view.
DOC_METHODS = ["get", "head"]
# The only relaxations of the Content-Security-Policy, on these two vendor pages only:
# Swagger UI and ReDoc inject <style> elements, and ReDoc's search runs in a blob:
# worker. Swagger UI's init script is a file (the split view), so scripts stay 'self'.
DOCS_CSP = {"style-src": ["'unsafe-inline'"]}
REDOC_CSP = {**DOCS_CSP, "worker-src": ["'self'", "blob:"]}

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/v1/schema/", SpectacularAPIView.as_view(http_method_names=DOC_METHODS),
         name="api_schema"),
    path("api/v1/docs/", csp_update(DOCS_CSP)(SpectacularSwaggerSplitView.as_view(
        url_name="api_schema", http_method_names=DOC_METHODS)), name="api_docs"),
    path("api/v1/redoc/", csp_update(REDOC_CSP)(SpectacularRedocView.as_view(
        url_name="api_schema", http_method_names=DOC_METHODS)), name="api_redoc"),
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
