"""Sign-offs: who may sign which role, separation of duties, version voiding on edit,
activation only when all three roles approved the current version."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from guardian.shortcuts import assign_perm

from approvals import services
from approvals.models import PolicyRow, SignOff
from approvals.permissions import can_sign
from approvals.workflow import InvalidTransition
from tests.approvals.conftest import Counts, sign

S = PolicyRow.Status
R = SignOff.Role

# persona -> the roles they may sign on a row requested by "requester" whose app owner is
# "app_owner". Everything else is refused.
MATRIX = {
    "requester": set(),
    "security": {R.SECURITY},
    "finance": {R.FINANCE},
    "app_owner": {R.APP_OWNER},
    "admin": set(),
    "auditor": set(),
    "outsider": set(),
}


@pytest.fixture
def cast(people, outsider):
    return {**people, "outsider": outsider}


@pytest.mark.parametrize("role", R.values)
@pytest.mark.parametrize("persona", MATRIX)
def test_signoff_matrix(persona, role, org_a, make_row, cast):
    row = make_row(S.IN_REVIEW)
    actor = cast[persona]
    before = Counts(org_a)
    if role in MATRIX[persona]:
        assert can_sign(actor, row, role)
        services.signoff_record(org=org_a, actor=actor, row=row, role=role,
                                decision=SignOff.Decision.APPROVE)
        signoff = SignOff.objects.get(row=row)
        assert (signoff.signer, signoff.role, signoff.row_version) == (actor, role, 1)
        assert signoff.content_hash == row.content_hash()
        [audit] = before.new_audit()
        assert audit.action == "approval.signed" and audit.changes["role"] == [None, role]
        assert [e.kind for e in before.new_events()] == ["approval.signed"]
    else:
        assert not can_sign(actor, row, role)
        with pytest.raises(PermissionDenied):
            services.signoff_record(org=org_a, actor=actor, row=row, role=role,
                                    decision=SignOff.Decision.APPROVE)
        assert not SignOff.objects.filter(row=row).exists()
        assert before.new_audit() == [] and before.new_events() == []


def test_requester_who_is_app_owner_signs_only_app_owner(org_a, make_row, people):
    row = make_row(S.IN_REVIEW, app_owner=people["requester"])
    requester = people["requester"]
    assert can_sign(requester, row, R.APP_OWNER)
    assert not can_sign(requester, row, R.SECURITY)
    services.signoff_record(org=org_a, actor=requester, row=row, role=R.APP_OWNER,
                            decision="approve")
    row.refresh_from_db()
    # The requester's approval alone never activates a row: two others must still sign.
    assert row.status == S.IN_REVIEW


def test_requester_cannot_sign_security_even_with_a_grant(org_a, make_row, people):
    row = make_row(S.IN_REVIEW)
    assign_perm("sign_security_policyrow", people["requester"].user, row)
    with pytest.raises(PermissionDenied, match="requester"):
        services.signoff_record(org=org_a, actor=people["requester"], row=row,
                                role=R.SECURITY, decision="approve")


def test_granted_member_signs_the_granted_role_only(org_a, make_row, people):
    row = make_row(S.IN_REVIEW)
    reviewer = people["owner"]  # no sign scopes of their own
    # Finance delegates finance: the grantor holds the authority they hand on.
    services.row_reviewer_grant(org=org_a, actor=people["finance"], row=row,
                                membership=reviewer, role=R.FINANCE)
    assert can_sign(reviewer, row, R.FINANCE)
    assert not can_sign(reviewer, row, R.SECURITY)
    services.signoff_record(org=org_a, actor=reviewer, row=row, role=R.FINANCE,
                            decision="approve")
    assert SignOff.objects.get(row=row).signer == reviewer


def test_grant_on_another_row_does_not_count(org_a, make_row, people):
    row, other = make_row(S.IN_REVIEW), make_row(S.IN_REVIEW)
    assign_perm("sign_finance_policyrow", people["owner"].user, other)
    assert not can_sign(people["owner"], row, R.FINANCE)


def test_security_cannot_delegate_finance(org_a, make_row, people):
    row = make_row(S.IN_REVIEW)
    with pytest.raises(PermissionDenied, match="Only a holder of finance authority"):
        services.row_reviewer_grant(org=org_a, actor=people["security"], row=row,
                                    membership=people["owner"], role=R.FINANCE)


def test_requester_cannot_be_granted_security(org_a, make_row, people):
    row = make_row(S.IN_REVIEW)
    with pytest.raises(ValidationError, match="The requester cannot review security"):
        services.row_reviewer_grant(org=org_a, actor=people["security"], row=row,
                                    membership=people["requester"], role=R.SECURITY)


def test_one_person_cannot_sign_two_roles(org_a, make_row, people):
    row = make_row(S.IN_REVIEW)
    security = people["security"]
    assign_perm("sign_finance_policyrow", security.user, row)
    sign(org_a, row, people, R.SECURITY)
    before = Counts(org_a)
    with pytest.raises(PermissionDenied, match="one person signs one role"):
        services.signoff_record(org=org_a, actor=security, row=row, role=R.FINANCE,
                                decision="approve")
    assert before.new_audit() == []


def test_app_owner_with_security_scope_cannot_sign_both(org_a, make_row, people):
    row = make_row(S.IN_REVIEW, app_owner=people["security"])
    sign(org_a, row, people, R.SECURITY)
    with pytest.raises(PermissionDenied):
        services.signoff_record(org=org_a, actor=people["security"], row=row,
                                role=R.APP_OWNER, decision="approve")


def test_a_role_is_signed_once(org_a, make_row, people, personas):
    from tests.factories import MembershipFactory

    row = make_row(S.IN_REVIEW)
    sign(org_a, row, people, R.SECURITY)
    second = MembershipFactory(org=org_a, role="security")
    with pytest.raises(ValidationError, match="already given"):
        services.signoff_record(org=org_a, actor=second, row=row, role=R.SECURITY,
                                decision="approve")


def test_reject_needs_a_comment_and_moves_to_rejected(org_a, make_row, people):
    row = make_row(S.IN_REVIEW)
    with pytest.raises(ValidationError):
        sign(org_a, row, people, R.FINANCE, decision="reject")
    before = Counts(org_a)
    row = sign(org_a, row, people, R.FINANCE, decision="reject", comment="Budget too high")
    assert row.status == S.REJECTED
    assert [e.kind for e in before.new_events()] == ["approval.rejected"]
    assert before.new_audit()[0].changes["status"] == [S.IN_REVIEW, S.REJECTED]


def test_row_activates_only_when_all_three_approved(org_a, make_row, people):
    row = make_row(S.IN_REVIEW)
    row = sign(org_a, row, people, R.SECURITY)
    row = sign(org_a, row, people, R.FINANCE)
    assert row.status == S.IN_REVIEW and row.activated_at is None
    row = sign(org_a, row, people, R.APP_OWNER)
    assert row.status == S.ACTIVE and row.activated_at is not None


def test_signature_of_other_content_does_not_activate(org_a, make_row, people):
    row = make_row(S.IN_REVIEW)
    sign(org_a, row, people, R.SECURITY)
    sign(org_a, row, people, R.FINANCE)
    # Content changed behind the services' back: the old signatures cover other content.
    PolicyRow.objects.filter(pk=row.pk).update(business_reason="Something else")
    row = sign(org_a, row, people, R.APP_OWNER)
    assert row.status == S.IN_REVIEW


def test_inactive_fallback_blocks_activation(org_a, make_row, people):
    fallback = make_row(S.IN_REVIEW)
    row = make_row(S.IN_REVIEW, fallback_row=fallback)
    sign(org_a, row, people, R.SECURITY)
    sign(org_a, row, people, R.FINANCE)
    with pytest.raises(ValidationError, match="fallback"):
        sign(org_a, row, people, R.APP_OWNER)
    PolicyRow.objects.filter(pk=fallback.pk).update(status=S.ACTIVE)
    assert sign(org_a, row, people, R.APP_OWNER).status == S.ACTIVE


def test_edit_after_signature_voids_it_and_says_so(org_a, make_row, people):
    row = make_row(S.IN_REVIEW)
    sign(org_a, row, people, R.SECURITY)
    row = services.row_request_changes(org=org_a, actor=people["finance"], row=row,
                                       comment="Lower the budget")
    before = Counts(org_a)
    row = services.row_update(org=org_a, actor=people["requester"], row=row,
                              monthly_budget="300.00")
    assert row.version == 2
    signoff = SignOff.objects.get(row=row)
    assert signoff.voided_at is not None
    assert "version 2" in signoff.void_reason and "monthly_budget" in signoff.void_reason
    [audit] = before.new_audit()
    assert audit.action == "approval.updated"
    assert audit.changes["version"] == [1, 2]
    assert audit.changes["voided_signoffs"] == [None, 1]
    assert audit.changes["monthly_budget"] == ["500.00", "300.00"]
    assert [e.kind for e in before.new_events()] == ["approval.updated"]


def test_edit_that_changes_nothing_keeps_version_and_signatures(org_a, make_row, people):
    row = make_row(S.CHANGES_REQUESTED)
    before = Counts(org_a)
    row = services.row_update(org=org_a, actor=people["requester"], row=row,
                              business_reason=row.business_reason)
    assert row.version == 1 and before.new_audit() == []


def test_same_amount_written_differently_is_no_edit(org_a, make_row, people):
    row = make_row(S.CHANGES_REQUESTED)
    row = services.row_update(org=org_a, actor=people["requester"], row=row,
                              monthly_budget="500", daily_cap="40.0")
    assert row.version == 1


def test_resubmission_voids_live_signatures(org_a, make_row, people):
    row = make_row(S.IN_REVIEW)
    sign(org_a, row, people, R.SECURITY)
    row = services.row_request_changes(org=org_a, actor=people["admin"], row=row,
                                       comment="Add evidence")
    services.row_submit(org=org_a, actor=people["requester"], row=row)
    assert "resubmitted" in SignOff.objects.get(row=row).void_reason


def test_signing_outside_review_is_an_invalid_transition(org_a, make_row, people):
    row = make_row(S.EVIDENCE)
    with pytest.raises(InvalidTransition):
        sign(org_a, row, people, R.SECURITY)


def test_content_hash_covers_signed_fields_only(make_row, people, chat_model, snapshot):
    from tests.approvals.conftest import make_entry

    row = make_row()
    first = row.content_hash()
    assert first == PolicyRow.objects.get(pk=row.pk).content_hash()
    row.status, row.version = S.ACTIVE, 7
    assert row.content_hash() == first
    row.allowed_actions = ["chat_stream", "chat"]  # order does not matter
    assert row.content_hash() == first
    row.approved_models.add(make_entry(snapshot, "gpt-other"))
    assert row.content_hash() != first
