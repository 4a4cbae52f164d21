from django.urls import path

from orgs.views import account, audit, members, org, sso

app_name = "orgs"

ORG = "o/<slug:org_slug>/"

urlpatterns = [
    path("", account.home, name="home"),
    path("orgs/new/", account.org_create, name="org_create"),
    path("invitations/<str:token>/", account.invitation_accept, name="invitation_accept"),
    path("account/tokens/", account.token_list, name="token_list"),
    path("account/tokens/<uuid:public_id>/revoke/", account.token_revoke, name="token_revoke"),
    path("sso/", sso.sso_start, name="sso_start"),
    path("sso/<slug:slug>/", sso.sso_org, name="sso_org"),
    path("sso/<slug:slug>/link/", sso.sso_link, name="sso_link"),
    path(ORG, org.dashboard, name="dashboard"),
    path(ORG + "settings/", org.org_settings, name="org_settings"),
    path(ORG + "settings/security/", sso.security_policy, name="security_policy"),
    path(ORG + "settings/sso/", sso.sso_settings, name="sso_settings"),
    path(ORG + "settings/sso/new/<str:kind>/", sso.connection_create,
         name="sso_connection_create"),
    path(ORG + "settings/sso/<uuid:public_id>/", sso.connection_detail, name="sso_connection"),
    path(ORG + "settings/sso/<uuid:public_id>/delete/", sso.connection_delete,
         name="sso_connection_delete"),
    path(ORG + "settings/domains/", sso.domain_add, name="domain_add"),
    path(ORG + "settings/domains/<uuid:public_id>/verify/", sso.domain_verify,
         name="domain_verify"),
    path(ORG + "settings/domains/<uuid:public_id>/remove/", sso.domain_remove,
         name="domain_remove"),
    path(ORG + "members/", members.member_list, name="member_list"),
    path(ORG + "members/invite/", members.invitation_create, name="invitation_create"),
    path(ORG + "members/<uuid:public_id>/role/", members.member_role, name="member_role"),
    path(ORG + "members/<uuid:public_id>/remove/", members.member_remove, name="member_remove"),
    path(ORG + "invitations/<uuid:public_id>/revoke/", members.invitation_revoke,
         name="invitation_revoke"),
    path(ORG + "audit/", audit.audit_list, name="audit_list"),
    path(ORG + "audit/export.csv", audit.audit_export, name="audit_export"),
    # Sections of the product that are not built yet: one page saying what each will do.
    *[
        path(f"{ORG}{section}/", org.section_placeholder, {"section": section},
             name=f"section_{section}")
        for section in org.SECTIONS
    ],
]
