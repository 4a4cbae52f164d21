from django.urls import path

from orgs import api

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
]
