"""Issue #13 §1: sign-offs are bound to authority, not to whoever is named.

Reproduced first: an admin used "Name a reviewer" to give the auditor finance authority on
a row, and the auditor signed as finance. The matrix below walks every org role x every
sign-off role x granted / not granted; the grant tests walk every grantor and grantee."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from guardian.shortcuts import assign_perm

from approvals import services
from approvals.models import PolicyRow, SignOff
from approvals.permissions import GRANT_PERMS, can_sign, has_grant, may_be_granted
from orgs.roles import Role
from tests.approvals.conftest import Counts
from tests.conftest import ROLES, login
from tests.factories import MembershipFactory

S = PolicyRow.Status
R = SignOff.Role

# Who signs each role by their org role alone (no grant, not the row's app owner).
SIGNS_BY_ROLE = {R.SECURITY: {Role.SECURITY}, R.FINANCE: {Role.FINANCE}, R.APP_OWNER: set()}
# Who may delegate each role on one row: the same authority only.
DELEGATES = {R.SECURITY: {Role.SECURITY}, R.FINANCE: {Role.FINANCE},
             R.APP_OWNER: {Role.ADMIN, Role.OWNER}}
# A legitimate grantor per role, for the grantee tests.
GRANTOR = {R.SECURITY: Role.SECURITY, R.FINANCE: Role.FINANCE, R.APP_OWNER: Role.ADMIN}


@pytest.fixture
def someone(org_a, personas):
    """someone(org_role): a member of org A with that role who neither requested the row
    nor owns it (the member persona is the rows' requester, so members are fresh)."""
    def make(org_role):
        if org_role == Role.MEMBER:
            return MembershipFactory(org=org_a, role=Role.MEMBER, user__email="m2@acme.test")
        return personas[org_role]
    return make


def _state(row):
    return (list(SignOff.objects.filter(row=row).values_list("role", "signer_id")),
            PolicyRow.objects.get(pk=row.pk).status)


@pytest.mark.parametrize("granted", [False, True], ids=["not_granted", "granted"])
@pytest.mark.parametrize("sign_role", R.values)
@pytest.mark.parametrize("org_role", ROLES)
def test_signing_follows_authority(org_a, make_row, someone, org_role, sign_role, granted):
    row = make_row(S.IN_REVIEW)
    actor = someone(org_role)
    if granted:
        # The grant is planted directly: a grant that exists, however it came to be (the
        # bug's admin grant, or a grant kept after a demotion to auditor).
        assign_perm(GRANT_PERMS[sign_role], actor.user, row)
    expected = org_role != Role.AUDITOR and (granted or org_role in SIGNS_BY_ROLE[sign_role])
    assert can_sign(actor, row, sign_role) is expected
    before, counts = _state(row), Counts(org_a)
    if expected:
        services.signoff_record(org=org_a, actor=actor, row=row, role=sign_role,
                                decision="approve")
        assert SignOff.objects.get(row=row).signer == actor
    else:
        with pytest.raises(PermissionDenied, match="You cannot sign as"):
            services.signoff_record(org=org_a, actor=actor, row=row, role=sign_role,
                                    decision="approve")
        assert _state(row) == before
        assert counts.new_audit() == [] and counts.new_events() == []


@pytest.mark.parametrize("sign_role", R.values)
@pytest.mark.parametrize("org_role", ROLES)
def test_only_the_same_authority_delegates_a_role(org_a, make_row, people, someone, org_role,
                                                   sign_role):
    row = make_row(S.IN_REVIEW)
    grantor, grantee = someone(org_role), people["app_owner"]
    counts = Counts(org_a)
    if org_role in DELEGATES[sign_role]:
        services.row_reviewer_grant(org=org_a, actor=grantor, row=row, membership=grantee,
                                    role=sign_role)
        assert has_grant(grantee, row, sign_role)
        [audit] = counts.new_audit()
        assert (audit.action, audit.actor_id) == ("approval.reviewer_granted", grantor.user_id)
        assert audit.changes == {"reviewer": [None, grantee.user.email],
                                 "role": [None, sign_role]}
    else:
        with pytest.raises(PermissionDenied, match="Only a holder of .* authority"):
            services.row_reviewer_grant(org=org_a, actor=grantor, row=row,
                                        membership=grantee, role=sign_role)
        assert not has_grant(grantee, row, sign_role)
        assert counts.new_audit() == [] and counts.new_events() == []


@pytest.mark.parametrize("sign_role", R.values)
@pytest.mark.parametrize("org_role", ROLES)
def test_who_may_be_named_reviewer(org_a, make_row, personas, someone, org_role, sign_role):
    row = make_row(S.IN_REVIEW)
    grantee, grantor = someone(org_role), personas[GRANTOR[sign_role]]
    if grantee == grantor:
        grantor = MembershipFactory(org=org_a, role=GRANTOR[sign_role],
                                    user__email="grantor@acme.test")
    counts = Counts(org_a)
    if org_role != Role.AUDITOR:
        assert may_be_granted(grantee, row, sign_role)
        services.row_reviewer_grant(org=org_a, actor=grantor, row=row, membership=grantee,
                                    role=sign_role)
        assert has_grant(grantee, row, sign_role)
    else:
        assert not may_be_granted(grantee, row, sign_role)
        with pytest.raises(ValidationError, match="Auditors read and never sign"):
            services.row_reviewer_grant(org=org_a, actor=grantor, row=row,
                                        membership=grantee, role=sign_role)
        assert not has_grant(grantee, row, sign_role)
        assert counts.new_audit() == []


@pytest.mark.parametrize("sign_role", [R.SECURITY, R.FINANCE])
def test_requester_is_never_named_security_or_finance(org_a, make_row, personas, sign_role):
    row = make_row(S.IN_REVIEW)
    requester = row.requested_by
    with pytest.raises(ValidationError, match="The requester cannot review"):
        services.row_reviewer_grant(org=org_a, actor=personas[GRANTOR[sign_role]], row=row,
                                    membership=requester, role=sign_role)
    assert not has_grant(requester, row, sign_role)


def test_the_reported_attack_admin_makes_auditor_finance_signer(org_a, make_row, people):
    """The issue's reproduction: refused at the grant, and the auditor cannot sign."""
    row = make_row(S.IN_REVIEW)
    counts = Counts(org_a)
    with pytest.raises(PermissionDenied, match="Only a holder of finance authority"):
        services.row_reviewer_grant(org=org_a, actor=people["admin"], row=row,
                                    membership=people["auditor"], role=R.FINANCE)
    with pytest.raises(PermissionDenied, match="You cannot sign as finance"):
        services.signoff_record(org=org_a, actor=people["auditor"], row=row, role=R.FINANCE,
                                decision="approve")
    assert not SignOff.objects.filter(row=row).exists()
    assert counts.new_audit() == []


def test_an_app_owner_demoted_to_auditor_no_longer_signs(org_a, make_row, people):
    row = make_row(S.IN_REVIEW)
    app_owner = people["app_owner"]
    app_owner.role = Role.AUDITOR
    app_owner.save()
    with pytest.raises(PermissionDenied, match="You cannot sign as app owner"):
        services.signoff_record(org=org_a, actor=app_owner, row=row, role=R.APP_OWNER,
                                decision="approve")


@pytest.mark.parametrize("field", ["app_owner", "engineering_owner", "finance_owner",
                                   "evidence_owner", "cutoff_owner"])
def test_an_auditor_cannot_own_a_row(org_a, make_row, people, field):
    before = PolicyRow.objects.for_org(org_a).count()
    with pytest.raises(ValidationError, match="An auditor cannot own a row"):
        make_row(**{field: people["auditor"]})
    assert PolicyRow.objects.for_org(org_a).count() == before


# --- The "Name a reviewer" control lists only people who may be given the role ----------


def _offered(response) -> dict[str, set[str]]:
    """{role: emails offered} of each "name a reviewer" form on the row page."""
    return {form.sign_role: {m.user.email for m in form.fields["member"].queryset}
            for form in response.context["grant_forms"]}


@pytest.mark.parametrize("org_role", ROLES)
def test_row_page_offers_each_role_only_to_who_may_hold_it(client, org_a, make_row,
                                                           personas, people, org_role):
    row = make_row(S.IN_REVIEW)
    login(client, personas[org_role])
    offered = _offered(client.get(reverse("approvals:row_detail", args=["acme", row.public_id])))
    assert set(offered) == {r for r, roles in DELEGATES.items() if org_role in roles}
    members = {m.user.email: m for m in people.values()}
    for role, emails in offered.items():
        assert "auditor@acme.test" not in emails
        assert emails == {e for e, m in members.items() if may_be_granted(m, row, role)}


def test_the_owner_picker_and_the_finding_owner_picker_leave_auditors_out(org_a, people):
    from approvals.finding_forms import FindingAssignForm
    from approvals.selectors import participant_list

    emails = {m.user.email for m in participant_list(org=org_a)}
    assert "auditor@acme.test" not in emails and "finance@acme.test" in emails
    form = FindingAssignForm(org=org_a)
    assert "auditor@acme.test" not in {m.user.email for m in form.fields["owner"].queryset}
