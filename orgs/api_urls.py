from django.urls import path

from orgs import api
from orgs.sso import api as sso_api

urlpatterns = [
    path("orgs/", api.MyOrgList.as_view(), name="api_org_list"),
    path("invitations/accept/", api.InvitationAccept.as_view(), name="api_invitation_accept"),
    path("tokens/", api.TokenList.as_view(), name="api_token_list"),
    path("tokens/<uuid:public_id>/", api.TokenDetail.as_view(), name="api_token_detail"),
    path("o/<slug:org_slug>/", api.OrgDetail.as_view(), name="api_org_detail"),
    path("o/<slug:org_slug>/members/", api.MemberList.as_view(), name="api_member_list"),
    path("o/<slug:org_slug>/members/<uuid:public_id>/", api.MemberDetail.as_view(),
         name="api_member_detail"),
    path("o/<slug:org_slug>/invitations/", api.InvitationList.as_view(),
         name="api_invitation_list"),
    path("o/<slug:org_slug>/invitations/<uuid:public_id>/", api.InvitationDetail.as_view(),
         name="api_invitation_detail"),
    path("o/<slug:org_slug>/audit/", api.AuditList.as_view(), name="api_audit_list"),
    path("o/<slug:org_slug>/sso/connections/", sso_api.ConnectionList.as_view(),
         name="api_sso_connection_list"),
    path("o/<slug:org_slug>/sso/connections/<uuid:public_id>/", sso_api.ConnectionDetail.as_view(),
         name="api_sso_connection_detail"),
    path("o/<slug:org_slug>/domains/", sso_api.DomainList.as_view(), name="api_domain_list"),
    path("o/<slug:org_slug>/domains/<uuid:public_id>/", sso_api.DomainDetail.as_view(),
         name="api_domain_detail"),
    path("o/<slug:org_slug>/domains/<uuid:public_id>/verify/", sso_api.DomainVerify.as_view(),
         name="api_domain_verify"),
    path("o/<slug:org_slug>/security-policy/", sso_api.SecurityPolicyDetail.as_view(),
         name="api_security_policy"),
]
