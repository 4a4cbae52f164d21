"""Every answer under /api/ is JSON, errors included, so a script or gateway never has
to parse an HTML page: Django's error handlers (wired in governance/urls.py) answer
{"detail": ...} for /api/ paths and the usual pages elsewhere, and ApiJsonErrors turns
any other non-JSON error (a vendor view's plain-text 405, say) into the same shape.

A body over DATA_UPLOAD_MAX_MEMORY_SIZE (RequestDataTooBig) is a 413 under /api/:
Django files it under SuspiciousOperation, a 400, but the client's fix is a smaller
body, which 413 says."""

from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.views import defaults

API_PREFIX = "/api/"


def _is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


def json_error(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


def bad_request(request, exception):
    """handler400: SuspiciousOperation, RequestDataTooBig among them."""
    if not _is_api(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        return json_error(413, "The request body is too large.")
    return json_error(400, "Bad request.")


def permission_denied(request, exception):
    if not _is_api(request):
        return defaults.permission_denied(request, exception)
    return json_error(403, "You do not have permission to perform this action.")


def page_not_found(request, exception):
    if not _is_api(request):
        return defaults.page_not_found(request, exception)
    return json_error(404, "Not found.")


def server_error(request):
    # No detail of the failure for the client: the log has it, under the request id.
    if not _is_api(request):
        return defaults.server_error(request)
    return json_error(500, "Internal server error. The administrators have the details.")


class ApiJsonErrors:
    """Middleware: an error response under /api/ that is not JSON becomes
    {"detail": "<reason>"} with the same status (and its headers, such as Allow)."""

    KEEP = ("Allow", "WWW-Authenticate", "Retry-After")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code < 400 or not _is_api(request):
            return response
        if "json" in response.get("Content-Type", ""):
            return response
        replaced = json_error(response.status_code, response.reason_phrase + ".")
        for header in self.KEEP:
            if header in response:
                replaced[header] = response[header]
        return replaced
