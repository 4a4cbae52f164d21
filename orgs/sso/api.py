"""API for SSO connections, verified domains and the security policy, under
/api/v1/o/<org_slug>/. The client secret is write-only: no response ever contains it."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from orgs import services
from orgs.api_base import OrgScopedAPIView
from orgs.policy import POLICY_FIELDS, SecurityPolicy
from orgs.sso import selectors
from orgs.sso import services as sso
from orgs.sso.models import SSOConnection, VerifiedDomain

CONNECTION_FIELDS = ["public_id", "kind", "name", "provider_id", "enabled", "default_role",
                     "group_attribute", "group_roles", "issuer_url", "client_id", "scopes",
                     "claim_mapping", "idp_metadata_url", "idp_metadata_xml", "idp_entity_id",
                     "attribute_mapping", "created_at", "updated_at"]


class SSOConnectionSerializer(serializers.ModelSerializer):
    client_secret = serializers.CharField(write_only=True, required=False, allow_blank=True)
    has_client_secret = serializers.SerializerMethodField()

    class Meta:
        model = SSOConnection
        fields = [*CONNECTION_FIELDS, "client_secret", "has_client_secret"]
        read_only_fields = ["public_id", "created_at", "updated_at"]
        extra_kwargs = {"provider_id": {"validators": []}}

    def get_has_client_secret(self, obj) -> bool:
        return bool(obj.client_secret_encrypted)


class SSOConnectionUpdateSerializer(SSOConnectionSerializer):
    class Meta(SSOConnectionSerializer.Meta):
        read_only_fields = ["public_id", "kind", "provider_id", "created_at", "updated_at"]


class VerifiedDomainSerializer(serializers.ModelSerializer):
    txt_record = serializers.CharField(read_only=True)

    class Meta:
        model = VerifiedDomain
        fields = ["public_id", "domain", "txt_record", "verified_at", "method", "checked_at",
                  "created_at"]
        read_only_fields = ["public_id", "verified_at", "method", "checked_at", "created_at"]


class DomainVerifySerializer(serializers.Serializer):
    # Only DNS: an owner's confirmation proved nothing (issue 12.1). Domains the operator
    # pre-verified (SSO_PREVERIFIED_DOMAINS) pass this same call without a record.
    method = serializers.ChoiceField(choices=[VerifiedDomain.Method.DNS],
                                     default=VerifiedDomain.Method.DNS)


class SecurityPolicySerializer(serializers.ModelSerializer):
    class Meta:
        model = SecurityPolicy
        fields = [*POLICY_FIELDS, "updated_at"]
        read_only_fields = ["updated_at"]


def _valid(serializer_class, data, **kwargs):
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class ConnectionList(mixins.ListModelMixin, OrgScopedAPIView):
    scopes = {"GET": "org:write", "POST": "org:write"}
    serializer_class = SSOConnectionSerializer

    def get_queryset(self):
        return selectors.connection_list(org=self.request.org)

    def get(self, request, org_slug):
        return self.list(request)

    @extend_schema(responses={201: SSOConnectionSerializer})
    def post(self, request, org_slug):
        data = _valid(SSOConnectionSerializer, request.data)
        conn = sso.sso_connection_create(org=request.org, actor=request.membership, **data)
        return Response(self.get_serializer(conn).data, status=status.HTTP_201_CREATED)


class ConnectionDetail(OrgScopedAPIView):
    scopes = {"GET": "org:write", "PATCH": "org:write", "DELETE": "org:write"}
    serializer_class = SSOConnectionSerializer

    def get_object(self):
        return selectors.connection_get(org=self.request.org, public_id=self.kwargs["public_id"])

    def get(self, request, org_slug, public_id):
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(request=SSOConnectionUpdateSerializer, responses=SSOConnectionSerializer)
    def patch(self, request, org_slug, public_id):
        conn = self.get_object()
        data = _valid(SSOConnectionUpdateSerializer, request.data, partial=True)
        conn = sso.sso_connection_update(org=request.org, actor=request.membership,
                                         connection=conn, **data)
        return Response(self.get_serializer(conn).data)

    def delete(self, request, org_slug, public_id):
        sso.sso_connection_delete(org=request.org, actor=request.membership,
                                  connection=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class DomainList(mixins.ListModelMixin, OrgScopedAPIView):
    scopes = {"GET": "org:write", "POST": "org:write"}
    serializer_class = VerifiedDomainSerializer

    def get_queryset(self):
        return selectors.domain_list(org=self.request.org)

    def get(self, request, org_slug):
        return self.list(request)

    @extend_schema(responses={201: VerifiedDomainSerializer})
    def post(self, request, org_slug):
        data = _valid(VerifiedDomainSerializer, request.data)
        row = sso.domain_add(org=request.org, actor=request.membership, domain=data["domain"])
        return Response(self.get_serializer(row).data, status=status.HTTP_201_CREATED)


class DomainDetail(OrgScopedAPIView):
    scopes = {"GET": "org:write", "DELETE": "org:write"}
    serializer_class = VerifiedDomainSerializer

    def get_object(self):
        return selectors.domain_get(org=self.request.org, public_id=self.kwargs["public_id"])

    def get(self, request, org_slug, public_id):
        return Response(self.get_serializer(self.get_object()).data)

    def delete(self, request, org_slug, public_id):
        sso.domain_remove(org=request.org, actor=request.membership, domain=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class DomainVerify(OrgScopedAPIView):
    """POST {"method": "dns"} checks the TXT record (a real DNS query)."""

    scopes = {"POST": "org:write"}
    serializer_class = VerifiedDomainSerializer

    @extend_schema(request=DomainVerifySerializer, responses=VerifiedDomainSerializer)
    def post(self, request, org_slug, public_id):
        row = selectors.domain_get(org=request.org, public_id=public_id)
        _valid(DomainVerifySerializer, request.data)
        row = sso.domain_verify_dns(org=request.org, actor=request.membership, domain=row)
        return Response(self.get_serializer(row).data)


class SecurityPolicyDetail(OrgScopedAPIView):
    scopes = {"GET": "org:read", "PATCH": "org:write"}
    serializer_class = SecurityPolicySerializer

    def get(self, request, org_slug):
        return Response(self.get_serializer(services.security_policy_get(org=request.org)).data)

    def patch(self, request, org_slug):
        data = _valid(SecurityPolicySerializer, request.data, partial=True)
        policy = services.security_policy_update(org=request.org, actor=request.membership,
                                                 **data)
        return Response(self.get_serializer(policy).data)
