"""API views for team API keys, workload identities and the token exchange.

Org endpoints sit on OrgScopedAPIView: reads need projects:read, and writes are decided by
the services' predicates (can_manage_keys, can_revoke_key, can_admin_project), so a member
without the right gets 403 from the service. A secret appears only in the 201 response
of create and rotate. The token exchange (/api/v1/oauth/token) is not org-scoped: the
subject token is its own proof, and the mapping it matches names the org.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from orgs.api_base import OrgScopedAPIView
from orgs.jsonbody import JSONParser
from orgs.middleware import client_ip
from projects import keys, selectors, workload
from projects.api import ProjectScoped, _valid
from projects.key_serializers import (
    KeyCreateSerializer,
    KeyFilterSerializer,
    KeyLeakResultSerializer,
    KeyLeakSerializer,
    KeyRevokeSerializer,
    KeyRotateSerializer,
    KeySerializer,
    KeyWithSecretSerializer,
    OAuthErrorSerializer,
    TokenExchangeSerializer,
    TokenResponseSerializer,
    WorkloadIdentitySerializer,
)

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _with_secret(key, secret):
    data = KeyWithSecretSerializer(key, context={"secret": secret}).data
    return Response(data, status=status.HTTP_201_CREATED, headers=NO_STORE)


class KeyList(mixins.ListModelMixin, OrgScopedAPIView):
    """GET lists keys (filters: project, environment, caller, status); POST creates one."""

    scopes = {"GET": "projects:read", "POST": "projects:read"}
    serializer_class = KeySerializer

    def get_queryset(self):
        filters = KeyFilterSerializer(data=self.request.query_params,
                                      context=self.get_serializer_context())
        filters.is_valid(raise_exception=True)
        return selectors.key_list(org=self.request.org, **filters.validated_data)

    @extend_schema(parameters=[KeyFilterSerializer])
    def get(self, request, org_slug):
        return self.list(request)

    @extend_schema(request=KeyCreateSerializer, responses={201: KeyWithSecretSerializer})
    def post(self, request, org_slug):
        data = _valid(KeyCreateSerializer, request.data, context=self.get_serializer_context())
        key, secret = keys.key_create(org=request.org, actor=request.membership, **data)
        return _with_secret(key, secret)


class KeyScoped(OrgScopedAPIView):
    serializer_class = KeySerializer

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.key = selectors.key_get(org=request.org, public_id=kwargs["public_id"])


class KeyDetail(KeyScoped):
    scopes = {"GET": "projects:read"}

    def get(self, request, org_slug, public_id):
        return Response(self.get_serializer(self.key).data)


class KeyRotate(KeyScoped):
    scopes = {"POST": "projects:read"}

    @extend_schema(request=KeyRotateSerializer, responses={201: KeyWithSecretSerializer})
    def post(self, request, org_slug, public_id):
        data = _valid(KeyRotateSerializer, request.data)
        successor, secret = keys.key_rotate(org=request.org, actor=request.membership,
                                            key=self.key, **data)
        return _with_secret(successor, secret)


class KeyRevoke(KeyScoped):
    scopes = {"POST": "projects:read"}

    @extend_schema(request=KeyRevokeSerializer, responses=KeySerializer)
    def post(self, request, org_slug, public_id):
        key = keys.key_revoke(org=request.org, actor=request.membership, key=self.key,
                              **_valid(KeyRevokeSerializer, request.data))
        return Response(self.get_serializer(key).data)


class KeyReportLeaked(OrgScopedAPIView):
    """Any member reports a leaked secret; the key is revoked and security notified."""

    scopes = {"POST": "projects:read"}
    serializer_class = KeyLeakSerializer

    @extend_schema(request=KeyLeakSerializer, responses={200: KeyLeakResultSerializer})
    def post(self, request, org_slug):
        key = keys.key_report_leaked(actor=request.membership,
                                     **_valid(KeyLeakSerializer, request.data))
        # A key of another org is revoked there, and nothing about it is shown here.
        return Response({"revoked": True, "key": KeySerializer(key).data if key else None})


class IdentityList(mixins.ListModelMixin, ProjectScoped):
    serializer_class = WorkloadIdentitySerializer
    scopes = {"GET": "projects:read", "POST": "projects:read"}

    def get_queryset(self):
        return selectors.identity_list(org=self.request.org, project=self.project)

    def get(self, request, org_slug, public_id):
        return self.list(request)

    @extend_schema(responses={201: WorkloadIdentitySerializer})
    def post(self, request, org_slug, public_id):
        data = _valid(WorkloadIdentitySerializer, request.data,
                      context=self.get_serializer_context())
        identity = workload.identity_create(org=request.org, actor=request.membership,
                                            project=self.project, **data)
        return Response(self.get_serializer(identity).data, status=status.HTTP_201_CREATED)


class IdentityDetail(ProjectScoped):
    serializer_class = WorkloadIdentitySerializer
    scopes = {"GET": "projects:read", "DELETE": "projects:read"}

    def get_object(self):
        return selectors.identity_get(org=self.request.org, project=self.project,
                                      public_id=self.kwargs["identity_id"])

    def get(self, request, org_slug, public_id, identity_id):
        return Response(self.get_serializer(self.get_object()).data)

    def delete(self, request, org_slug, public_id, identity_id):
        workload.identity_delete(org=request.org, actor=request.membership,
                                 identity=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenExchange(APIView):
    """RFC 8693 token exchange: a workload's OIDC token for a short-lived credential."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [FormParser, JSONParser]

    @extend_schema(request={"application/x-www-form-urlencoded": TokenExchangeSerializer},
                   responses={200: TokenResponseSerializer, 400: OAuthErrorSerializer,
                              429: OpenApiResponse(OAuthErrorSerializer, description=(
                                  "Over the per-address or per-issuer rate limit; the "
                                  "Retry-After header says when to try again."))},
                   auth=[])
    def post(self, request):
        data = request.data
        try:
            body = workload.token_exchange(
                grant_type=str(data.get("grant_type", "")),
                subject_token=str(data.get("subject_token", "")),
                subject_token_type=str(data.get("subject_token_type", "")),
                client=client_ip(request))
        except workload.ExchangeError as exc:
            headers = dict(NO_STORE)
            if exc.retry_after:
                headers["Retry-After"] = str(exc.retry_after)
            return Response({"error": exc.code, "error_description": exc.description},
                            status=exc.status, headers=headers)
        return Response(body, headers=NO_STORE)
