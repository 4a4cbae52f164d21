"""API views for orgs, members, invitations, the audit log and personal tokens.

Tenant endpoints subclass OrgScopedAPIView: `scopes` maps each method to the scope it
needs, and the base resolves the org (404 for non-members) before any handler runs.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, mixins, status
from rest_framework.response import Response

from orgs import selectors, services
from orgs.api_base import OrgScopedAPIView
from orgs.models import PersonalToken
from orgs.scoping import get_for_org_or_404
from orgs.serializers import (
    AuditEventSerializer,
    AuditFilterSerializer,
    InvitationAcceptSerializer,
    InvitationCreateSerializer,
    InvitationSerializer,
    MembershipSerializer,
    MyOrganizationSerializer,
    OrganizationCreateSerializer,
    OrganizationSerializer,
    PersonalTokenCreatedSerializer,
    PersonalTokenCreateSerializer,
    PersonalTokenSerializer,
    RoleSerializer,
)


def _valid(serializer_class, data, **kwargs):
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class MyOrgList(mixins.ListModelMixin, generics.GenericAPIView):
    """The orgs you belong to, with your role; POST creates an org you own."""

    serializer_class = MyOrganizationSerializer

    def get_queryset(self):
        return selectors.membership_for_user(user=self.request.user)

    def get(self, request):
        return self.list(request)

    @extend_schema(request=OrganizationCreateSerializer, responses={201: OrganizationSerializer})
    def post(self, request):
        org = services.org_create(user=request.user, **_valid(OrganizationCreateSerializer,
                                                               request.data))
        return Response(OrganizationSerializer(org).data, status=status.HTTP_201_CREATED)


class OrgDetail(OrgScopedAPIView):
    scopes = {"GET": "org:read", "PATCH": "org:write"}
    serializer_class = OrganizationSerializer

    def get(self, request, org_slug):
        return Response(self.get_serializer(request.org).data)

    def patch(self, request, org_slug):
        serializer = self.get_serializer(request.org, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        org = services.org_update(org=request.org, actor=request.membership,
                                  **serializer.validated_data)
        return Response(self.get_serializer(org).data)


class MemberList(mixins.ListModelMixin, OrgScopedAPIView):
    scopes = {"GET": "members:read"}
    serializer_class = MembershipSerializer

    def get_queryset(self):
        return selectors.membership_list(org=self.request.org)

    def get(self, request, org_slug):
        return self.list(request)


class MemberDetail(OrgScopedAPIView):
    # DELETE needs only membership: anyone may leave; the service checks rank for others.
    scopes = {"GET": "members:read", "PATCH": "members:write", "DELETE": "org:read"}
    serializer_class = MembershipSerializer

    def get_object(self):
        return selectors.membership_get(org=self.request.org, public_id=self.kwargs["public_id"])

    def get(self, request, org_slug, public_id):
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(request=RoleSerializer, responses=MembershipSerializer)
    def patch(self, request, org_slug, public_id):
        membership = services.membership_change_role(
            org=request.org, actor=request.membership, membership=self.get_object(),
            **_valid(RoleSerializer, request.data),
        )
        return Response(self.get_serializer(membership).data)

    def delete(self, request, org_slug, public_id):
        services.membership_remove(org=request.org, actor=request.membership,
                                   membership=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationList(mixins.ListModelMixin, OrgScopedAPIView):
    scopes = {"GET": "members:read", "POST": "members:write"}
    serializer_class = InvitationSerializer

    def get_queryset(self):
        return selectors.invitation_list(org=self.request.org)

    def get(self, request, org_slug):
        return self.list(request)

    @extend_schema(request=InvitationCreateSerializer, responses={201: InvitationSerializer})
    def post(self, request, org_slug):
        invitation, _token = services.invitation_create(
            org=request.org, actor=request.membership,
            **_valid(InvitationCreateSerializer, request.data),
        )
        return Response(self.get_serializer(invitation).data, status=status.HTTP_201_CREATED)


class InvitationDetail(OrgScopedAPIView):
    scopes = {"GET": "members:read", "DELETE": "members:write"}
    serializer_class = InvitationSerializer

    def get_object(self):
        return get_for_org_or_404(selectors.invitation_list(org=self.request.org),
                                  self.request.org, public_id=self.kwargs["public_id"])

    def get(self, request, org_slug, public_id):
        return Response(self.get_serializer(self.get_object()).data)

    def delete(self, request, org_slug, public_id):
        services.invitation_revoke(org=request.org, actor=request.membership,
                                   invitation=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationAccept(generics.GenericAPIView):
    """Accept an invitation with the token from its link, as the signed-in user."""

    serializer_class = InvitationAcceptSerializer

    @extend_schema(responses={201: MyOrganizationSerializer})
    def post(self, request):
        membership = services.invitation_accept(user=request.user,
                                                **_valid(InvitationAcceptSerializer, request.data))
        return Response(MyOrganizationSerializer(membership).data, status=status.HTTP_201_CREATED)


class AuditList(mixins.ListModelMixin, OrgScopedAPIView):
    """The org's audit log, newest first. Filters: actor, action, object_type, object_id,
    since, until (ISO 8601)."""

    scopes = {"GET": "audit:read"}
    serializer_class = AuditEventSerializer

    def get_queryset(self):
        filters = _valid(AuditFilterSerializer, self.request.query_params)
        return selectors.audit_event_list(org=self.request.org, **filters)

    @extend_schema(parameters=[AuditFilterSerializer])
    def get(self, request, org_slug):
        return self.list(request)


class TokenList(mixins.ListModelMixin, generics.GenericAPIView):
    """Your personal API tokens. POST mints one; its secret is in the response only."""

    serializer_class = PersonalTokenSerializer

    def get_queryset(self):
        return selectors.personal_token_list(user=self.request.user)

    def get(self, request):
        return self.list(request)

    @extend_schema(request=PersonalTokenCreateSerializer,
                   responses={201: PersonalTokenCreatedSerializer})
    def post(self, request):
        if isinstance(request.auth, PersonalToken):
            # A token minting tokens would outlive every rule of the session it came from.
            raise exceptions.PermissionDenied(
                "Personal API tokens are created from a signed-in session (the browser, "
                "Account → API tokens), not with another token.")
        token, secret = services.personal_token_create(
            user=request.user, **_valid(PersonalTokenCreateSerializer, request.data),
            sso_org_slugs=request.session.get("sso_org_slugs", []))
        token.secret = secret
        return Response(PersonalTokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)


class TokenDetail(generics.GenericAPIView):
    serializer_class = PersonalTokenSerializer

    def get_object(self):
        return get_object_or_404(PersonalToken, user=self.request.user,
                                 public_id=self.kwargs["public_id"])

    def get(self, request, public_id):
        return Response(self.get_serializer(self.get_object()).data)

    def delete(self, request, public_id):
        services.personal_token_revoke(user=request.user, token=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
