"""HTML views of orgs: every page and POST URL over every role of org A plus the outsider,
bad input that changes nothing, query counts, the CSV export and the invitation flow."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from orgs import services
from orgs.audit import AuditEvent, record_event
from orgs.models import Invitation, Membership, Organization, PersonalToken
from orgs.roles import Role
from orgs.views.audit import CSV_HEADER
from tests.conftest import ROLES, login
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

ALL = set(ROLES)
MEMBER_WRITERS = {Role.OWNER, Role.ADMIN}
ORG_WRITERS = {Role.OWNER, Role.ADMIN}
AUDIT_READERS = {Role.OWNER, Role.ADMIN, Role.SECURITY, Role.AUDITOR}
AUDIT_EXPORTERS = AUDIT_READERS

HX = {"HTTP_HX_REQUEST": "true"}




def org_url(name, *args, slug="acme"):
    return reverse(f"orgs:{name}", args=[slug, *args])


def as_role(client, personas, role):
    return login(client, personas[role])


def invite(org, actor, email="new@acme.test", role=Role.MEMBER, days=7):
    return services.invitation_create(org=org, actor=actor, email=email, role=role, days=days)


# --- GET pages: outsider 404, missing scope 403, allowed 200 -----------------------------

PAGES = [
    ("dashboard", ALL),
    ("member_list", ALL),
    ("org_settings", ALL),
    ("audit_list", AUDIT_READERS),
    ("audit_export", AUDIT_EXPORTERS),
    ("section_catalog", ALL),
    ("section_keys", ALL),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("name", "allowed"), PAGES)
def test_org_page_is_200_with_scope_and_403_without(client, personas, role, name, allowed):
    response = as_role(client, personas, role).get(org_url(name))
    assert response.status_code == (200 if role in allowed else 403)


@pytest.mark.parametrize(("name", "allowed"), PAGES)
def test_outsider_gets_404(client, personas, outsider, name, allowed):
    response = login(client, outsider).get(org_url(name))
    assert response.status_code == 404


@pytest.mark.parametrize(("name", "allowed"), PAGES)
def test_anonymous_is_sent_to_login(client, org_a, name, allowed):
    response = client.get(org_url(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_unknown_org_is_404_like_a_foreign_one(client, owner):
    assert login(client, owner).get(org_url("dashboard", slug="nope")).status_code == 404


def test_dashboard_shows_counts_and_recent_events_to_audit_readers(client, personas):
    invite(personas[Role.OWNER].org, personas[Role.OWNER])
    response = as_role(client, personas, Role.AUDITOR).get(org_url("dashboard"))
    assert response.context["member_count"] == len(ROLES)
    assert response.context["invitation_count"] == 1
    assert [e.action for e in response.context["recent_events"]] == ["invitation.created"]


def test_dashboard_hides_audit_events_without_audit_read(client, personas):
    response = as_role(client, personas, Role.MEMBER).get(org_url("dashboard"))
    assert response.context["recent_events"] is None


def test_evidence_section_links_to_the_evidence_list(client, owner):
    content = login(client, owner).get(org_url("dashboard")).content.decode()
    assert reverse("evidence:item_list", args=["acme"]) in content
    assert "orgs:section_evidence" not in content


def test_layout_lists_my_orgs_and_sections(client, owner):
    MembershipFactory(org=OrganizationFactory(name="Second Org", slug="second"), user=owner.user)
    content = login(client, owner).get(org_url("dashboard")).content.decode()
    assert reverse("orgs:dashboard", args=["second"]) in content
    assert reverse("orgs:org_create") in content
    assert reverse("projects:project_list", args=["acme"]) in content
    assert reverse("account_logout") in content
    assert 'hx-headers=\'{"X-CSRFToken": "' in content


# --- home, org creation ------------------------------------------------------------------

def test_home_sends_anonymous_to_login(client, db):
    response = client.get(reverse("orgs:home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_home_with_one_org_goes_to_its_dashboard(client, owner):
    response = login(client, owner).get(reverse("orgs:home"))
    assert response["Location"] == org_url("dashboard")


def test_home_with_no_org_goes_to_org_create(client, db):
    client.force_login(UserFactory())
    assert client.get(reverse("orgs:home"))["Location"] == reverse("orgs:org_create")


def test_home_with_several_orgs_shows_chooser(client, owner):
    MembershipFactory(org=OrganizationFactory(slug="second"), user=owner.user)
    response = login(client, owner).get(reverse("orgs:home"))
    assert response.status_code == 200
    assert len(response.context["memberships"]) == 2


def test_anyone_signed_in_creates_an_org_and_owns_it(client, db):
    user = UserFactory()
    client.force_login(user)
    response = client.post(reverse("orgs:org_create"), {"name": "Initech", "slug": "initech"})
    assert response["Location"] == org_url("dashboard", slug="initech")
    assert Membership.objects.get(org__slug="initech", user=user).role == Role.OWNER


@pytest.mark.parametrize("slug", ["acme", "admin", "Not A Slug"])
def test_org_create_rejects_taken_reserved_or_malformed_slug(client, owner, slug):
    before = Organization.objects.count()
    response = login(client, owner).post(reverse("orgs:org_create"),
                                         {"name": "Dup", "slug": slug})
    assert response.status_code == 400
    assert response.context["form"].errors["slug"]
    assert Organization.objects.count() == before


# --- members: invite, role, remove, revoke ----------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_only_member_writers_invite(client, personas, role):
    response = as_role(client, personas, role).post(
        org_url("invitation_create"), {"email": "new@acme.test", "role": "member", "days": 7})
    created = Invitation.objects.filter(email="new@acme.test").exists()
    if role in MEMBER_WRITERS:
        assert response.status_code == 302
        assert created
    else:
        assert response.status_code == 403
        assert not created


def test_outsider_cannot_invite_into_org_a(client, personas, outsider):
    response = login(client, outsider).post(
        org_url("invitation_create"), {"email": "x@globex.test", "role": "member", "days": 7})
    assert response.status_code == 404
    assert not Invitation.objects.exists()


def test_invitation_create_is_post_only(client, owner):
    assert login(client, owner).get(org_url("invitation_create")).status_code == 405


def test_invite_with_invalid_email_shows_field_error_and_changes_nothing(client, owner):
    events = AuditEvent.objects.count()
    response = login(client, owner).post(
        org_url("invitation_create"), {"email": "not-an-email", "role": "member", "days": 7})
    assert response.status_code == 400
    assert response.context["invite_form"].errors["email"]
    assert not Invitation.objects.exists()
    assert AuditEvent.objects.count() == events


def test_admin_cannot_invite_above_own_rank(client, personas):
    events = AuditEvent.objects.count()
    response = as_role(client, personas, Role.ADMIN).post(
        org_url("invitation_create"), {"email": "boss@acme.test", "role": "owner", "days": 7})
    assert response.status_code == 400
    assert "above your own" in response.context["invite_form"].errors["role"][0]
    assert not Invitation.objects.exists()
    assert AuditEvent.objects.count() == events


def test_inviting_an_existing_member_is_a_field_error(client, personas):
    response = as_role(client, personas, Role.OWNER).post(
        org_url("invitation_create"), {"email": "member@acme.test", "role": "member", "days": 7})
    assert response.status_code == 400
    assert "already a member" in response.context["invite_form"].errors["email"][0]


def test_invite_form_offers_only_grantable_roles(client, personas):
    response = as_role(client, personas, Role.ADMIN).get(org_url("member_list"))
    choices = [value for value, _ in response.context["invite_form"].fields["role"].choices]
    assert Role.OWNER not in choices
    assert Role.ADMIN in choices


@pytest.mark.parametrize("role", ROLES)
def test_only_member_writers_change_roles(client, personas, role):
    target = MembershipFactory(org=personas[Role.OWNER].org, role=Role.MEMBER)
    response = as_role(client, personas, role).post(
        org_url("member_role", target.public_id), {"role": "auditor", "confirm": "yes"})
    target.refresh_from_db()
    if role in MEMBER_WRITERS:
        assert response.status_code == 302
        assert target.role == Role.AUDITOR
    else:
        assert response.status_code == 403
        assert target.role == Role.MEMBER


def test_outsider_cannot_change_roles_in_org_a(client, personas, outsider):
    target = personas[Role.MEMBER]
    response = login(client, outsider).post(
        org_url("member_role", target.public_id), {"role": "auditor"})
    assert response.status_code == 404


def test_owner_cannot_change_role_of_other_orgs_member(client, owner, outsider):
    response = login(client, owner).post(
        org_url("member_role", outsider.public_id), {"role": "auditor"})
    assert response.status_code == 404
    outsider.refresh_from_db()
    assert outsider.role == Role.OWNER


def test_demoting_the_last_owner_is_refused_and_changes_nothing(client, owner):
    events = AuditEvent.objects.count()
    response = login(client, owner).post(org_url("member_role", owner.public_id),
                                         {"role": "admin", "confirm": "yes"})
    assert response.status_code == 400
    assert b"last owner" in response.content
    owner.refresh_from_db()
    assert owner.role == Role.OWNER
    assert AuditEvent.objects.count() == events


def test_admin_cannot_demote_an_owner(client, personas):
    owner = personas[Role.OWNER]
    response = as_role(client, personas, Role.ADMIN).post(
        org_url("member_role", owner.public_id), {"role": "member"})
    assert response.status_code == 400
    owner.refresh_from_db()
    assert owner.role == Role.OWNER


def test_role_change_over_htmx_returns_the_row_with_the_error(client, owner):
    response = login(client, owner).post(org_url("member_role", owner.public_id),
                                         {"role": "admin", "confirm": "yes"}, **HX)
    assert response.status_code == 422
    content = response.content.decode()
    assert content.lstrip().startswith("<tr")
    assert "last owner" in content
    assert "<html" not in content


def test_role_change_over_htmx_succeeds_with_hx_location(client, personas):
    target = personas[Role.MEMBER]
    response = as_role(client, personas, Role.OWNER).post(
        org_url("member_role", target.public_id), {"role": "finance", "confirm": "yes"}, **HX)
    assert response.status_code == 200
    assert response["HX-Location"]
    assert org_url("member_list") in response["HX-Location"]
    target.refresh_from_db()
    assert target.role == Role.FINANCE


def test_a_role_change_asks_first_and_changes_nothing_until_confirmed(client, personas):
    # One stray change of the select (or a post without JS) must not re-role anybody.
    target = personas[Role.MEMBER]
    events = AuditEvent.objects.count()
    asked = as_role(client, personas, Role.OWNER).post(
        org_url("member_role", target.public_id), {"role": "admin"})
    assert asked.status_code == 200
    page = asked.content.decode()
    assert f"Change {target.user.email} to Admin?" in page
    assert 'name="role" value="admin"' in page and 'name="confirm" value="yes"' in page
    target.refresh_from_db()
    assert target.role == Role.MEMBER and AuditEvent.objects.count() == events
    done = client.post(org_url("member_role", target.public_id),
                       {"role": "admin", "confirm": "yes"})
    assert done.status_code == 302
    target.refresh_from_db()
    assert target.role == Role.ADMIN


def test_an_htmx_role_change_without_its_confirmation_is_refused(client, personas):
    target = personas[Role.MEMBER]
    response = as_role(client, personas, Role.OWNER).post(
        org_url("member_role", target.public_id), {"role": "admin"}, **HX)
    assert response.status_code == 422
    assert "Confirm the role change." in response.content.decode()
    target.refresh_from_db()
    assert target.role == Role.MEMBER


def test_the_role_select_confirms_before_it_posts(client, personas):
    page = as_role(client, personas, Role.OWNER).get(org_url("member_list")).content.decode()
    assert "hx-confirm=\"Change the role of" in page
    assert "hx-vals='{\"confirm\": \"yes\"}'" in page


def test_members_page_shows_role_select_only_when_allowed(client, personas):
    admin_view = as_role(client, personas, Role.ADMIN).get(org_url("member_list"))
    rows = {r["member"].role: r for r in admin_view.context["rows"]}
    assert rows[Role.MEMBER]["can_change"] and not rows[Role.OWNER]["can_change"]
    auditor_view = as_role(client, personas, Role.AUDITOR).get(org_url("member_list"))
    assert not any(r["can_change"] for r in auditor_view.context["rows"])
    assert b'name="role"' not in auditor_view.content


@pytest.mark.parametrize("role", ROLES)
def test_only_member_writers_remove_others(client, personas, role):
    target = MembershipFactory(org=personas[Role.OWNER].org, role=Role.MEMBER)
    response = as_role(client, personas, role).post(org_url("member_remove", target.public_id))
    gone = not Membership.objects.filter(pk=target.pk).exists()
    if role in MEMBER_WRITERS:
        assert response.status_code == 302
        assert gone
    else:
        assert response.status_code == 403
        assert not gone


@pytest.mark.parametrize("role", [r for r in ROLES if r != Role.OWNER])
def test_any_member_can_leave(client, personas, role):
    me = personas[role]
    response = as_role(client, personas, role).post(org_url("member_remove", me.public_id))
    assert response["Location"] == reverse("orgs:home")
    assert not Membership.objects.filter(pk=me.pk).exists()


def test_last_owner_cannot_leave(client, owner):
    events = AuditEvent.objects.count()
    response = login(client, owner).post(org_url("member_remove", owner.public_id))
    assert response.status_code == 400
    assert b"last owner" in response.content
    assert Membership.objects.filter(pk=owner.pk).exists()
    assert AuditEvent.objects.count() == events


def test_outsider_cannot_remove_members_of_org_a(client, personas, outsider):
    target = personas[Role.MEMBER]
    response = login(client, outsider).post(org_url("member_remove", target.public_id))
    assert response.status_code == 404
    assert Membership.objects.filter(pk=target.pk).exists()


@pytest.mark.parametrize("role", ROLES)
def test_only_member_writers_revoke_invitations(client, personas, role):
    invitation, _ = invite(personas[Role.OWNER].org, personas[Role.OWNER])
    response = as_role(client, personas, role).post(
        org_url("invitation_revoke", invitation.public_id))
    invitation.refresh_from_db()
    if role in MEMBER_WRITERS:
        assert response.status_code == 302
        assert invitation.revoked_at is not None
    else:
        assert response.status_code == 403
        assert invitation.revoked_at is None


def test_outsider_cannot_revoke_org_a_invitation(client, personas, outsider):
    invitation, _ = invite(personas[Role.OWNER].org, personas[Role.OWNER])
    response = login(client, outsider).post(
        org_url("invitation_revoke", invitation.public_id, slug="globex"))
    assert response.status_code == 404
    invitation.refresh_from_db()
    assert invitation.revoked_at is None


def test_revoking_twice_explains_and_changes_nothing(client, owner):
    invitation, _ = invite(owner.org, owner)
    login(client, owner).post(org_url("invitation_revoke", invitation.public_id))
    events = AuditEvent.objects.count()
    response = client.post(org_url("invitation_revoke", invitation.public_id))
    assert response.status_code == 400
    assert b"only pending invitations" in response.content
    assert AuditEvent.objects.count() == events


# --- settings -----------------------------------------------------------------------------

def settings_data(org, **changes):
    return {"name": org.name, "billing_owner": "", "renewal_contact_email": "",
            "finance_contact_email": "", **changes}


@pytest.mark.parametrize("role", ROLES)
def test_only_org_writers_change_settings(client, personas, role):
    org = personas[Role.OWNER].org
    response = as_role(client, personas, role).post(
        org_url("org_settings"), settings_data(org, name="Acme Corp"))
    org.refresh_from_db()
    if role in ORG_WRITERS:
        assert response.status_code == 302
        assert org.name == "Acme Corp"
    else:
        assert response.status_code == 403
        assert org.name == "Acme"


def test_settings_are_read_only_without_org_write(client, personas):
    response = as_role(client, personas, Role.FINANCE).get(org_url("org_settings"))
    assert response.context["editable"] is False
    assert b'<form method="post" novalidate>' not in response.content


def test_billing_owner_must_be_a_member_of_this_org(client, owner, outsider):
    events = AuditEvent.objects.count()
    response = login(client, owner).post(
        org_url("org_settings"), settings_data(owner.org, billing_owner=str(outsider.public_id)))
    assert response.status_code == 400
    assert response.context["form"].errors["billing_owner"]
    assert AuditEvent.objects.count() == events


def test_settings_reject_a_bad_contact_email(client, owner):
    response = login(client, owner).post(
        org_url("org_settings"), settings_data(owner.org, finance_contact_email="nope"))
    assert response.status_code == 400
    assert response.context["form"].errors["finance_contact_email"]


def test_billing_owner_is_set_from_members(client, personas):
    finance = personas[Role.FINANCE]
    as_role(client, personas, Role.OWNER).post(
        org_url("org_settings"), settings_data(finance.org, billing_owner=str(finance.public_id)))
    finance.org.refresh_from_db()
    assert finance.org.billing_owner == finance


# --- audit log ----------------------------------------------------------------------------

def add_events(org, actor, n, action="test.event", **extra):
    for i in range(n):
        record_event(org=org, actor=actor, action=action, object_type="thing",
                     object_id=f"id-{i}", object_repr=f"thing {i}",
                     changes={"value": [i, i + 1]}, **extra)


def test_audit_list_filters_by_action_and_actor(client, personas):
    org, owner = personas[Role.OWNER].org, personas[Role.OWNER]
    add_events(org, owner, 2, action="alpha.done")
    add_events(org, personas[Role.ADMIN], 3, action="beta.done")
    login(client, owner)
    by_action = client.get(org_url("audit_list"), {"action": "beta.done"})
    assert by_action.context["page"].paginator.count == 3
    by_actor = client.get(org_url("audit_list"), {"actor": "owner@"})
    assert by_actor.context["page"].paginator.count == 2


def test_audit_list_paginates_50_per_page(client, owner):
    add_events(owner.org, owner, 51)
    login(client, owner)
    first = client.get(org_url("audit_list"))
    assert len(first.context["page"].object_list) == 50
    second = client.get(org_url("audit_list"), {"page": 2})
    assert [e.seq for e in second.context["page"].object_list] == [1]


def test_audit_list_date_range_must_be_ordered(client, owner):
    response = login(client, owner).get(
        org_url("audit_list"), {"since": "2030-01-02", "until": "2030-01-01"})
    assert response.status_code == 200
    assert response.context["form"].errors["until"]


def test_audit_list_never_shows_other_orgs_events(client, owner, outsider):
    add_events(outsider.org, outsider, 2, action="globex.secret")
    response = login(client, owner).get(org_url("audit_list"))
    assert b"globex.secret" not in response.content


def read_csv(response):
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_audit_export_streams_all_matching_rows_with_header(client, owner):
    add_events(owner.org, owner, 60, action="export.me")
    add_events(owner.org, owner, 2, action="other.thing")
    response = login(client, owner).get(org_url("audit_export"), {"action": "export.me"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment;" in response["Content-Disposition"]
    rows = read_csv(response)
    assert tuple(rows[0]) == CSV_HEADER
    assert len(rows) == 61
    first = dict(zip(CSV_HEADER, rows[1], strict=True))
    assert first["action"] == "export.me"
    assert first["actor"] == "owner@acme.test"
    assert first["object_id"] == "id-59"
    assert first["changes"] == '{"value": [59, 60]}'
    event = AuditEvent.objects.get(org=owner.org, seq=int(first["seq"]))
    assert first["hash"] == event.hash


def test_audit_export_refuses_a_filter_it_cannot_parse(client, owner):
    add_events(owner.org, owner, 2)
    response = login(client, owner).get(org_url("audit_export"), {"since": "yesterday"})
    assert response.status_code == 400
    assert b"since" in response.content


def test_audit_export_defuses_spreadsheet_formulas(client, owner):
    record_event(org=owner.org, actor=owner, action="x.y", object_type="thing",
                 object_id="1", object_repr="=HYPERLINK(\"http://evil\")")
    rows = read_csv(login(client, owner).get(org_url("audit_export")))
    assert rows[1][CSV_HEADER.index("object_repr")].startswith("'=")


def test_audit_export_never_contains_other_orgs_events(client, owner, outsider):
    add_events(outsider.org, outsider, 2, action="globex.secret")
    rows = read_csv(login(client, owner).get(org_url("audit_export")))
    assert all(row[CSV_HEADER.index("action")] != "globex.secret" for row in rows)


# --- query counts -------------------------------------------------------------------------

def org_of_size(rows):
    org = OrganizationFactory()
    owner = MembershipFactory(org=org, role=Role.OWNER)
    MembershipFactory.create_batch(rows - 1, org=org)
    return org, owner


@pytest.mark.parametrize("rows", [3, 50])
def test_member_list_query_count_is_flat(client, db, django_assert_num_queries, rows):
    org, owner = org_of_size(rows)
    for i in range(rows):
        invite(org, owner, email=f"invitee{i}@example.test")
    login(client, owner)
    # session, user, membership+org, members+users, invitations+inviters, org switcher
    with django_assert_num_queries(6):
        response = client.get(org_url("member_list", slug=org.slug))
    assert len(response.context["rows"]) == rows
    assert response.content.count(b"invitee") >= rows


@pytest.mark.parametrize("rows", [3, 50])
def test_audit_list_query_count_is_flat(client, db, django_assert_num_queries, rows):
    org, owner = org_of_size(1)
    add_events(org, owner, rows)
    login(client, owner)
    # session, user, membership+org, action choices, count, page of events, org switcher
    with django_assert_num_queries(7):
        response = client.get(org_url("audit_list", slug=org.slug))
    assert len(response.context["page"].object_list) == rows


# --- personal tokens ----------------------------------------------------------------------

def test_token_list_needs_login(client, db):
    response = client.get(reverse("orgs:token_list"))
    assert response["Location"].startswith(reverse("account_login"))


def test_token_secret_is_shown_once(client, owner):
    login(client, owner)
    response = client.post(reverse("orgs:token_list"), {"name": "CI export", "days": 30})
    assert response.status_code == 201
    secret = response.context["secret"]
    assert secret.startswith("gvp_")
    assert secret.encode() in response.content
    assert "no-store" in response["Cache-Control"]
    token = PersonalToken.objects.get(user=owner.user)
    assert token.name == "CI export"
    again = client.get(reverse("orgs:token_list"))
    assert secret.encode() not in again.content
    assert token.token_prefix.encode() in again.content


def test_token_with_too_long_life_is_a_field_error(client, owner):
    response = login(client, owner).post(reverse("orgs:token_list"),
                                         {"name": "x", "days": 9999})
    assert response.status_code == 400
    assert response.context["form"].errors["days"]
    assert not PersonalToken.objects.exists()


def test_user_revokes_own_token(client, owner):
    token, _ = services.personal_token_create(user=owner.user, name="t")
    response = login(client, owner).post(reverse("orgs:token_revoke", args=[token.public_id]))
    assert response["Location"] == reverse("orgs:token_list")
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_user_cannot_revoke_someone_elses_token(client, owner, outsider):
    token, _ = services.personal_token_create(user=outsider.user, name="theirs")
    response = login(client, owner).post(reverse("orgs:token_revoke", args=[token.public_id]))
    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_token_list_shows_only_own_tokens(client, owner, outsider):
    services.personal_token_create(user=outsider.user, name="globex-secret-token")
    response = login(client, owner).get(reverse("orgs:token_list"))
    assert b"globex-secret-token" not in response.content


# --- invitation links ---------------------------------------------------------------------

def accept_url(token):
    return reverse("orgs:invitation_accept", args=[token])


def test_existing_user_accepts_invitation_and_joins_with_its_role(client, owner):
    invitation, token = invite(owner.org, owner, email="new@acme.test", role=Role.FINANCE)
    user = UserFactory(email="new@acme.test")
    client.force_login(user)
    page = client.get(accept_url(token))
    assert page.status_code == 200
    assert page.context["owns_email"] is True
    response = client.post(accept_url(token))
    assert response["Location"] == org_url("dashboard")
    assert Membership.objects.get(org=owner.org, user=user).role == Role.FINANCE


def test_signed_out_visitor_gets_invitation_remembered(client, owner):
    invitation, token = invite(owner.org, owner, email="new@acme.test")
    response = client.get(accept_url(token))
    assert response.status_code == 200
    assert client.session["pending_invitation"] == token
    assert client.session["account_verified_email"] == "new@acme.test"
    assert f"{reverse('account_signup')}?email=new%40acme.test".encode() in response.content
    assert not Membership.objects.filter(user__email="new@acme.test").exists()


def test_signed_out_post_goes_to_login(client, owner):
    _, token = invite(owner.org, owner)
    response = client.post(accept_url(token))
    assert response["Location"].startswith(reverse("account_login"))


def test_unknown_invitation_token_is_404(client, db):
    response = client.get(accept_url("not-a-real-token"))
    assert response.status_code == 404
    assert b"not valid" in response.content
    assert "pending_invitation" not in client.session


def test_used_invitation_is_400_and_changes_nothing(client, owner):
    _, token = invite(owner.org, owner, email="new@acme.test")
    client.force_login(UserFactory(email="new@acme.test"))
    client.post(accept_url(token))
    events = AuditEvent.objects.count()
    response = client.post(accept_url(token))
    assert response.status_code == 400
    assert b"already been used" in response.content
    assert AuditEvent.objects.count() == events


def test_expired_invitation_is_400(client, owner):
    invitation, token = invite(owner.org, owner, email="new@acme.test")
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1))
    client.force_login(UserFactory(email="new@acme.test"))
    assert client.get(accept_url(token)).status_code == 400
    response = client.post(accept_url(token))
    assert response.status_code == 400
    assert b"expired" in response.content
    assert not Membership.objects.filter(user__email="new@acme.test").exists()


def test_invitation_for_another_address_cannot_be_accepted(client, owner, outsider):
    _, token = invite(owner.org, owner, email="new@acme.test")
    login(client, outsider)
    page = client.get(accept_url(token))
    assert page.context["owns_email"] is False
    response = client.post(accept_url(token))
    assert response.status_code == 400
    assert not Membership.objects.filter(org=owner.org, user=outsider.user).exists()
