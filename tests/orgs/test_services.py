"""Services in orgs/: each test checks the effect and the audit event it writes."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from orgs import services
from orgs.audit import AuditEvent
from orgs.models import Invitation, Membership, Organization
from orgs.roles import Role
from tests.factories import CallerFactory, MembershipFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


def events(org, action):
    return AuditEvent.objects.for_org(org).filter(action=action)


def test_org_create_makes_creator_owner_and_billing_owner():
    user = UserFactory()
    org = services.org_create(user=user, name="Initech", slug="initech")
    owner = Membership.objects.get(org=org, user=user)
    assert owner.role == Role.OWNER
    assert org.billing_owner == owner
    assert list(AuditEvent.objects.for_org(org).order_by("seq").values_list("action", flat=True)) \
        == ["org.created", "member.added"]


@pytest.mark.parametrize("slug", ["acme", "new", "Bad Slug", "-x"])
def test_org_create_rejects_taken_reserved_or_malformed_slug(org_a, slug):
    before = Organization.objects.count()
    with pytest.raises(ValidationError) as exc:
        services.org_create(user=UserFactory(), name="X", slug=slug)
    assert "slug" in exc.value.message_dict
    assert Organization.objects.count() == before


def test_org_update_records_before_and_after(personas, org_a):
    services.org_update(org=org_a, actor=personas["admin"], name="Acme Corp")
    event = events(org_a, "org.updated").get()
    assert event.changes == {"name": ["Acme", "Acme Corp"]}
    assert event.actor == personas["admin"].user


def test_org_update_needs_org_write(personas, org_a):
    with pytest.raises(PermissionDenied):
        services.org_update(org=org_a, actor=personas["security"], name="Hacked")


def test_billing_owner_from_another_org_is_refused(personas, org_a, outsider):
    with pytest.raises(ValidationError) as exc:
        services.org_update(org=org_a, actor=personas["owner"], billing_owner=outsider)
    assert "billing_owner" in exc.value.message_dict


def test_invitation_mails_a_one_time_link(personas, org_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invitation, token = services.invitation_create(
            org=org_a, actor=personas["admin"], email="New@Example.com", role=Role.FINANCE)
    assert invitation.email == "new@example.com"
    assert len(mail.outbox) == 1 and token in mail.outbox[0].body
    assert invitation.token_hash != token  # only the hash is stored
    assert events(org_a, "invitation.created").get().changes["role"] == [None, "finance"]


def test_admin_cannot_invite_an_owner(personas, org_a):
    with pytest.raises(ValidationError) as exc:
        services.invitation_create(org=org_a, actor=personas["admin"], email="x@example.com",
                                   role=Role.OWNER)
    assert "role" in exc.value.message_dict
    assert not Invitation.objects.for_org(org_a).exists()


def test_member_cannot_invite(personas, org_a):
    with pytest.raises(PermissionDenied):
        services.invitation_create(org=org_a, actor=personas["member"], email="x@example.com",
                                   role=Role.AUDITOR)


def test_inviting_an_existing_member_is_refused(personas, org_a):
    with pytest.raises(ValidationError) as exc:
        services.invitation_create(org=org_a, actor=personas["owner"],
                                   email="MEMBER@acme.test", role=Role.MEMBER)
    assert "already a member" in exc.value.message_dict["email"][0]


def test_second_open_invitation_is_refused_until_first_expires(personas, org_a):
    first, _ = services.invitation_create(org=org_a, actor=personas["owner"],
                                          email="x@example.com", role=Role.MEMBER)
    with pytest.raises(ValidationError):
        services.invitation_create(org=org_a, actor=personas["owner"], email="x@example.com",
                                   role=Role.MEMBER)
    Invitation.objects.filter(pk=first.pk).update(expires_at=timezone.now() - timedelta(days=1))
    second, _ = services.invitation_create(org=org_a, actor=personas["owner"],
                                           email="x@example.com", role=Role.MEMBER)
    assert second.pk != first.pk


def test_existing_user_accepts_invitation_once(personas, org_a):
    user = UserFactory(email="joiner@example.com")
    invitation, token = services.invitation_create(
        org=org_a, actor=personas["owner"], email=user.email, role=Role.SECURITY)
    membership = services.invitation_accept(token=token, user=user)
    assert membership.role == Role.SECURITY and membership.org == org_a
    assert events(org_a, "member.joined").get().actor == user
    with pytest.raises(ValidationError, match="already been used"):
        services.invitation_accept(token=token, user=user)


@pytest.mark.parametrize("state,message", [
    ("expired", "expired"), ("revoked", "withdrawn"), ("unknown", "not valid"),
])
def test_unusable_invitation_changes_nothing(personas, org_a, state, message):
    user = UserFactory(email="joiner@example.com")
    invitation, token = services.invitation_create(
        org=org_a, actor=personas["owner"], email=user.email, role=Role.MEMBER)
    if state == "expired":
        Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now())
    elif state == "revoked":
        services.invitation_revoke(org=org_a, actor=personas["owner"], invitation=invitation)
    else:
        token = "not-a-real-token"
    count = AuditEvent.objects.for_org(org_a).count()
    with pytest.raises(ValidationError, match=message):
        services.invitation_accept(token=token, user=user)
    assert not Membership.objects.filter(user=user).exists()
    assert AuditEvent.objects.for_org(org_a).count() == count


def test_invitation_for_another_address_is_refused(personas, org_a):
    _, token = services.invitation_create(org=org_a, actor=personas["owner"],
                                          email="right@example.com", role=Role.MEMBER)
    wrong = UserFactory(email="wrong@example.com")
    with pytest.raises(ValidationError, match="right@example.com"):
        services.invitation_accept(token=token, user=wrong)


def test_admin_can_change_member_to_security(personas, org_a):
    services.membership_change_role(org=org_a, actor=personas["admin"],
                                    membership=personas["member"], role=Role.SECURITY)
    personas["member"].refresh_from_db()
    assert personas["member"].role == Role.SECURITY
    assert events(org_a, "member.role_changed").get().changes == {"role": ["member", "security"]}


@pytest.mark.parametrize("target,new_role", [
    ("member", Role.OWNER),   # above the admin's own rank
    ("owner", Role.MEMBER),   # the target outranks the admin
])
def test_admin_cannot_grant_above_own_rank(personas, org_a, target, new_role):
    with pytest.raises(ValidationError) as exc:
        services.membership_change_role(org=org_a, actor=personas["admin"],
                                        membership=personas[target], role=new_role)
    assert "role" in exc.value.message_dict
    personas[target].refresh_from_db()
    assert personas[target].role == target


def test_last_owner_cannot_be_demoted(personas, org_a):
    with pytest.raises(ValidationError, match="last owner"):
        services.membership_change_role(org=org_a, actor=personas["owner"],
                                        membership=personas["owner"], role=Role.ADMIN)
    assert not events(org_a, "member.role_changed").exists()


def test_owner_can_step_down_when_another_owner_exists(personas, org_a):
    services.membership_change_role(org=org_a, actor=personas["owner"],
                                    membership=personas["admin"], role=Role.OWNER)
    services.membership_change_role(org=org_a, actor=personas["owner"],
                                    membership=personas["owner"], role=Role.ADMIN)
    assert Membership.objects.for_org(org_a).filter(role=Role.OWNER).get() == personas["admin"]


def test_last_owner_cannot_leave(personas, org_a):
    with pytest.raises(ValidationError, match="last owner"):
        services.membership_remove(org=org_a, actor=personas["owner"],
                                   membership=personas["owner"])
    assert Membership.objects.filter(pk=personas["owner"].pk).exists()


def test_member_can_leave(personas, org_a):
    services.membership_remove(org=org_a, actor=personas["member"],
                               membership=personas["member"])
    assert not Membership.objects.filter(pk=personas["member"].pk).exists()
    assert events(org_a, "member.left").get().actor == personas["member"].user


def test_admin_cannot_remove_owner(personas, org_a):
    with pytest.raises(PermissionDenied):
        services.membership_remove(org=org_a, actor=personas["admin"],
                                   membership=personas["owner"])


def test_removed_member_loses_project_roles(personas, org_a):
    from projects.selectors import project_role_of
    from projects.services import project_role_set

    project = ProjectFactory(org=org_a)
    project_role_set(org=org_a, actor=personas["owner"], project=project,
                     membership=personas["member"], role="developer")
    services.membership_remove(org=org_a, actor=personas["admin"], membership=personas["member"])
    assert project_role_of(project=project, user=personas["member"].user) is None
    assert events(org_a, "member.removed").exists()


def test_member_who_owns_a_caller_must_hand_it_over_first(personas, org_a):
    CallerFactory(project=ProjectFactory(org=org_a), owner=personas["member"], name="bot")
    with pytest.raises(ValidationError, match="bot"):
        services.membership_remove(org=org_a, actor=personas["admin"],
                                   membership=personas["member"])


def test_personal_token_is_stored_hashed_and_audited_in_each_org(personas, org_a, org_b):
    user = personas["member"].user
    MembershipFactory(org=org_b, user=user)
    token, secret = services.personal_token_create(user=user, name="export script", days=30)
    assert secret.startswith("gvp_") and secret not in (token.token_hash, token.token_prefix)
    assert events(org_a, "token.created").count() == 1
    assert events(org_b, "token.created").count() == 1
    services.personal_token_revoke(user=user, token=token)
    assert not token.__class__.objects.get(pk=token.pk).is_active


def test_membership_add_refuses_duplicates(personas, org_a):
    with pytest.raises(ValidationError):
        services.membership_add(org=org_a, actor=None, user=personas["member"].user,
                                role=Role.MEMBER)


def test_token_days_outside_range_is_refused(personas):
    with pytest.raises(ValidationError) as exc:
        services.personal_token_create(user=personas["member"].user, name="x", days=0)
    assert "days" in exc.value.message_dict


def test_membership_service_with_foreign_membership_fails(personas, org_a, outsider):
    with pytest.raises(Membership.DoesNotExist):
        services.membership_change_role(org=org_a, actor=personas["owner"],
                                        membership=outsider, role=Role.MEMBER)


def test_security_policy_update_is_audited_and_emits_an_event(personas, org_a):
    from orgs.events import NotificationEvent

    policy = services.security_policy_update(org=org_a, actor=personas["admin"],
                                             idle_timeout_minutes=30,
                                             invitation_domains="Acme.test, @acme.example")
    assert policy.invitation_domain_list() == ["acme.test", "acme.example"]
    event = events(org_a, "policy.updated").get()
    assert event.changes["idle_timeout_minutes"] == [0, 30]
    assert NotificationEvent.objects.for_org(org_a).get().kind == "security.policy_changed"


def test_security_policy_needs_org_write_and_valid_values(personas, org_a):
    with pytest.raises(PermissionDenied):
        services.security_policy_update(org=org_a, actor=personas["security"], mfa_required=True)
    with pytest.raises(ValidationError) as exc:
        services.security_policy_update(org=org_a, actor=personas["owner"],
                                        max_api_key_days=0)
    assert "max_api_key_days" in exc.value.message_dict
    assert not events(org_a, "policy.updated").exists()


def test_invitations_respect_allowed_domains(personas, org_a):
    services.security_policy_update(org=org_a, actor=personas["owner"],
                                    invitation_domains="acme.test")
    with pytest.raises(ValidationError, match="only invites addresses at acme.test"):
        services.invitation_create(org=org_a, actor=personas["owner"],
                                   email="someone@gmail.com", role=Role.MEMBER)
    services.invitation_create(org=org_a, actor=personas["owner"], email="new@acme.test",
                               role=Role.MEMBER)


def test_personal_token_age_is_capped_by_the_strictest_org(personas, org_a):
    services.security_policy_update(org=org_a, actor=personas["owner"],
                                    max_personal_token_days=30)
    with pytest.raises(ValidationError, match="1 to 30 days"):
        services.personal_token_create(user=personas["member"].user, name="x", days=31)
    services.personal_token_create(user=personas["member"].user, name="x", days=30)


def test_event_emit_refuses_bad_kinds_and_runs_in_transactions(org_a):
    from django.db import transaction

    from orgs.events import event_emit

    with pytest.raises(ValueError), transaction.atomic():
        event_emit(org=org_a, kind="NotAKind")
