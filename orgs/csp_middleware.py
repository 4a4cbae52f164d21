"""django-csp's middleware with the policy built once per process.

django-csp builds the header string on every response and sets up a lazy nonce on every
request (about 80 µs, a tenth of a decision on the gateway's hot path). Our policy uses
no nonce and is the same for every response except the views that change it with a
csp_* decorator, so those go through django-csp as they are and the rest get the
cached string. The cache follows the setting object, so override_settings still works."""

from csp.constants import HEADER
from csp.middleware import CSPMiddleware
from csp.utils import build_policy
from django.conf import settings

_PER_VIEW = ("_csp_config", "_csp_update", "_csp_replace", "_csp_exempt")


class CachedCSPMiddleware(CSPMiddleware):
    _for = _header = None

    def process_request(self, request):
        return None  # no nonce in the policy: nothing to set up

    def process_response(self, request, response):
        if any(hasattr(response, name) for name in _PER_VIEW):
            return super().process_response(request, response)
        if HEADER not in response and not (
                settings.DEBUG and response.status_code in (404, 500)):  # as django-csp
            response[HEADER] = self._policy()
        return response

    def _policy(self) -> str:
        config = getattr(settings, "CONTENT_SECURITY_POLICY", None)
        if self._for is not config:
            self._for, self._header = config, build_policy()
        return self._header
