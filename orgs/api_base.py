"""The API's org base: OrgScopedAPIView resolves <org_slug> once, maps methods to scopes,
and turns service errors into field-level JSON."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, generics
from rest_framework.views import exception_handler as drf_exception_handler

from orgs.decorators import resolve_membership
from orgs.models import PersonalToken
from orgs.token_policy import org_rule_refusal


def exception_handler(exc, context):
    """DRF's handler, plus: Django ValidationError -> 400 {field: [messages]}."""
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            detail = {("non_field_errors" if k == "__all__" else k): v
                      for k, v in exc.message_dict.items()}
        else:
            detail = {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)
    return drf_exception_handler(exc, context)


class OrgScopedAPIView(generics.GenericAPIView):
    """Base for every /api/v1/o/<org_slug>/ endpoint.

    `scopes` maps each HTTP method to the scope it needs; a method missing from the map
    is refused (405) even if a handler exists, so no endpoint is open by accident.
    Non-members get 404, members without the scope 403.
    """

    scopes: dict[str, str] = {}

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication happens here
        scope = self.scopes.get(request.method)
        if request.method == "OPTIONS":
            scope = scope or "org:read"
        if scope is None:
            raise exceptions.MethodNotAllowed(request.method)
        membership = resolve_membership(request.user, kwargs.get("org_slug", ""))
        request.org, request.membership = membership.org, membership
        if isinstance(request.auth, PersonalToken):
            # A token must not get around the org's MFA or SSO rule (orgs/token_policy.py).
            refusal = org_rule_refusal(membership=membership,
                                       sso_org_ids=request.auth.sso_org_ids)
            if refusal:
                raise exceptions.PermissionDenied(refusal)
        if not membership.has_scope(scope):
            raise exceptions.PermissionDenied(
                f"Your role ({membership.get_role_display()}) lacks the '{scope}' scope."
            )

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if hasattr(self.request, "org"):
            context.update(org=self.request.org, membership=self.request.membership)
        return context
