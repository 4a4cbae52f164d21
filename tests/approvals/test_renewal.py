"""The renewal review at service level: the checklist, each outcome, the re-signing of a
renewed row by the same three roles, bad answers and who may do what."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from guardian.shortcuts import assign_perm

from approvals import services
from approvals.lint import lint_row
from approvals.models import ApprovalSettings, PolicyRow, RenewalReview, RowEvidence, SignOff
from approvals.selectors import renewal_review_open, rows_past_renewal, signoff_inbox
from approvals.workflow import InvalidTransition
from evidence.models import EvidenceItem
from tests.approvals.conftest import Counts, all_ok, propose_renewal, sign

S = PolicyRow.Status
R = SignOff.Role
today = timezone.localdate


def _errors(exc):
    return exc.value.message_dict


def _evidence(org, row=None, title="Usage export November"):
    item = EvidenceItem.objects.create(org=org, kind=EvidenceItem.Kind.USAGE_ROW, title=title,
                                       sha256="b" * 64, collector_label="system")
    if row is not None:
        RowEvidence.objects.create(org=org, row=row, item=item)
    return item


@pytest.fixture
def approved(org_a, make_row, people):
    """A row approved by the three roles, now due for renewal (its approvals live)."""
    row = make_row(S.IN_REVIEW)
    for role in R.values:
        row = sign(org_a, row, people, role)
    return services.row_mark_renewal_due(org=org_a, actor=None, row=row)


def test_the_whole_renewal_is_re_signed_by_the_three_roles(org_a, approved, people):
    row, old_version = approved, approved.version
    before = Counts(org_a)
    review = propose_renewal(org_a, row, people, days=80)
    row.refresh_from_db()
    assert (row.status, row.version) == (S.RENEWAL_DUE, old_version + 1)
    assert row.renewal_date == today() + timedelta(days=80)
    assert review.outcome == RenewalReview.Outcome.RENEW and review.decided_at is None
    old = SignOff.objects.filter(row=row)
    assert old.count() == 3 and all(s.void_reason == RenewalReview.VOID_REASON for s in old)
    assert [a.action for a in before.new_audit()] == [
        "approval.renewal_review_started", "approval.renewal_review_answered",
        "approval.renewal_proposed"]
    assert [i.row for i in signoff_inbox(org=org_a, actor=people["finance"])] == [row]

    sign(org_a, row, people, R.SECURITY)
    sign(org_a, row, people, R.FINANCE)
    middle = Counts(org_a)
    row = sign(org_a, row, people, R.APP_OWNER)
    assert row.status == S.ACTIVE
    [audit], [event] = middle.new_audit(), middle.new_events()
    assert (audit.action, event.kind) == ("approval.renewed", "approval.renewed")
    assert audit.changes["status"] == [S.RENEWAL_DUE, S.ACTIVE]
    review.refresh_from_db()
    assert review.decided_at is not None and review.outcome == RenewalReview.Outcome.RENEW
    assert review.decided_by == people["security"]  # who proposed it, not the last signer
    assert renewal_review_open(org=org_a, row=row) is None
    live = SignOff.objects.filter(row=row, voided_at__isnull=True)
    assert {s.row_version for s in live} == {row.version} and live.count() == 3


def test_a_row_awaiting_its_renewal_signatures_is_not_flagged_as_unapproved(
        org_a, approved, people):
    propose_renewal(org_a, approved, people)
    assert "requester-sole-approver" not in {f.rule for f in lint_row(org=org_a, row=approved)}


def test_renewal_due_row_cannot_be_signed_before_a_renewal_is_proposed(org_a, approved, people):
    services.renewal_review_start(org=org_a, actor=people["security"], row=approved)
    with pytest.raises(InvalidTransition):
        sign(org_a, approved, people, R.SECURITY)


def test_a_reject_signature_during_renewal_sends_the_row_to_rework(org_a, approved, people):
    review = propose_renewal(org_a, approved, people)
    sign(org_a, approved, people, R.SECURITY)
    before = Counts(org_a)
    row = sign(org_a, approved, people, R.FINANCE, SignOff.Decision.REJECT,
               comment="Spend doubled since the last review.")
    assert row.status == S.CHANGES_REQUESTED
    assert [e.kind for e in before.new_events()] == ["approval.changes_requested"]
    review.refresh_from_db()
    assert (review.outcome, review.decided_at is not None) == (RenewalReview.Outcome.REWORK,
                                                               True)


def test_renew_needs_every_area_answered_ok(org_a, approved, people):
    security = people["security"]
    review = services.renewal_review_start(org=org_a, actor=security, row=approved)
    answers = {**all_ok(), "usage_and_cost": {"ok": False, "note": "Unowned calls appear."}}
    answers.pop("fallback")
    services.renewal_review_answer(org=org_a, actor=security, review=review, answers=answers,
                                   proposed_renewal_date=today() + timedelta(days=30))
    with pytest.raises(ValidationError) as exc:
        services.renewal_review_decide(org=org_a, actor=security, review=review,
                                       outcome="renew")
    assert set(_errors(exc)) == {"usage_and_cost", "fallback"}
    approved.refresh_from_db()
    assert approved.version == 1 and approved.status == S.RENEWAL_DUE


def test_not_ok_needs_a_note_and_bad_answers_save_nothing(org_a, approved, people):
    security = people["security"]
    review = services.renewal_review_start(org=org_a, actor=security, row=approved)
    with pytest.raises(ValidationError) as exc:
        services.renewal_review_answer(
            org=org_a, actor=security, review=review,
            answers={"data_scope": {"ok": False, "note": "  "}, "model_identity": "yes",
                     "fallback": {"ok": True, "note": "", "evidence": str(_evidence(org_a)
                                                                          .public_id)}},
            proposed_renewal_date=today())
    assert set(_errors(exc)) == {"data_scope", "model_identity", "fallback",
                                 "proposed_renewal_date"}
    assert "Say what is wrong with the data scope" in _errors(exc)["data_scope"][0]
    assert "attached to this row" in _errors(exc)["fallback"][0]
    review.refresh_from_db()
    assert review.answers == {} and review.proposed_renewal_date is None
    with pytest.raises(ValidationError, match="Unknown review area"):
        services.renewal_review_answer(org=org_a, actor=security, review=review,
                                       answers={"vibes": {"ok": True}})


def test_an_answer_may_cite_evidence_attached_to_the_row(org_a, approved, people):
    item = _evidence(org_a, approved)
    review = services.renewal_review_start(org=org_a, actor=people["security"], row=approved)
    review = services.renewal_review_answer(
        org=org_a, actor=people["security"], review=review,
        answers={"usage_and_cost": {"ok": True, "note": "", "evidence": str(item.public_id)}})
    assert review.answers["usage_and_cost"]["evidence"] == str(item.public_id)


def test_proposed_date_is_within_the_orgs_max_renewal_days(org_a, approved, people):
    ApprovalSettings.objects.create(org=org_a, max_renewal_days=30)
    review = services.renewal_review_start(org=org_a, actor=people["security"], row=approved)
    with pytest.raises(ValidationError) as exc:
        services.renewal_review_answer(org=org_a, actor=people["security"], review=review,
                                       answers=all_ok(),
                                       proposed_renewal_date=today() + timedelta(days=31))
    assert "within 30 days" in _errors(exc)["proposed_renewal_date"][0]


@pytest.mark.parametrize(("outcome", "status", "kind"), [
    ("rework", S.CHANGES_REQUESTED, "approval.changes_requested"),
    ("revoke", S.REVOKED, "approval.revoked"),
])
def test_rework_and_revoke_move_the_row_with_the_comment(outcome, status, kind, org_a,
                                                         approved, people):
    review = services.renewal_review_start(org=org_a, actor=people["admin"], row=approved)
    with pytest.raises(ValidationError) as exc:
        services.renewal_review_decide(org=org_a, actor=people["admin"], review=review,
                                       outcome=outcome, comment=" ")
    assert "comment" in _errors(exc)
    before = Counts(org_a)
    row = services.renewal_review_decide(org=org_a, actor=people["admin"], review=review,
                                         outcome=outcome, comment="The model was renamed.")
    assert row.status == status
    [audit], [event] = before.new_audit(), before.new_events()
    assert (audit.action, event.kind) == (kind, kind)
    assert audit.changes["comment"] == [None, "The model was renamed."]
    review.refresh_from_db()
    assert (review.outcome, review.decided_by) == (outcome, people["admin"])


def test_requester_cannot_review_their_own_renewal(org_a, approved, people):
    with pytest.raises(PermissionDenied):
        services.renewal_review_start(org=org_a, actor=people["requester"], row=approved)
    review = services.renewal_review_start(org=org_a, actor=people["security"], row=approved)
    for persona in ("requester", "finance", "auditor"):
        with pytest.raises(PermissionDenied):
            services.renewal_review_decide(org=org_a, actor=people[persona], review=review,
                                           outcome="revoke", comment="x")
    assert PolicyRow.objects.get(pk=approved.pk).status == S.RENEWAL_DUE


def test_an_admin_requester_cannot_renew_their_own_row(org_a, make_row, people):
    row = make_row(S.RENEWAL_DUE)
    PolicyRow.objects.filter(pk=row.pk).update(requested_by=people["admin"])
    row.refresh_from_db()
    with pytest.raises(PermissionDenied):
        services.renewal_review_start(org=org_a, actor=people["admin"], row=row)


def test_outsider_cannot_touch_a_renewal(org_a, approved, people, outsider):
    review = services.renewal_review_start(org=org_a, actor=people["security"], row=approved)
    with pytest.raises(PermissionDenied):
        services.renewal_review_answer(org=org_a, actor=outsider, review=review,
                                       answers=all_ok())


def test_one_person_signs_one_role_of_a_renewal(org_a, approved, people):
    propose_renewal(org_a, approved, people)
    assign_perm("sign_finance_policyrow", people["security"].user, approved)
    sign(org_a, approved, people, R.SECURITY)
    with pytest.raises(PermissionDenied, match="one person signs one role"):
        services.signoff_record(org=org_a, actor=people["security"], row=approved,
                                role=R.FINANCE, decision="approve")


def test_requester_cannot_sign_security_of_a_renewal(org_a, approved, people):
    propose_renewal(org_a, approved, people)
    assign_perm("sign_security_policyrow", people["requester"].user, approved)
    with pytest.raises(PermissionDenied, match="requester cannot sign"):
        services.signoff_record(org=org_a, actor=people["requester"], row=approved,
                                role=R.SECURITY, decision="approve")


def test_one_open_review_per_row(org_a, approved, people):
    services.renewal_review_start(org=org_a, actor=people["security"], row=approved)
    with pytest.raises(ValidationError):
        services.renewal_review_start(org=org_a, actor=people["admin"], row=approved)


def test_a_decided_review_takes_no_more_answers(org_a, approved, people):
    review = propose_renewal(org_a, approved, people)
    with pytest.raises(InvalidTransition):
        services.renewal_review_answer(org=org_a, actor=people["security"], review=review,
                                       answers=all_ok())
    with pytest.raises(InvalidTransition):
        services.renewal_review_decide(org=org_a, actor=people["security"], review=review,
                                       outcome="revoke", comment="x")


def test_only_rows_due_for_renewal_are_reviewed(org_a, make_row, people):
    with pytest.raises(InvalidTransition):
        services.renewal_review_start(org=org_a, actor=people["security"],
                                      row=make_row(S.ACTIVE))


def test_revoking_the_row_otherwise_closes_its_open_review(org_a, approved, people):
    review = services.renewal_review_start(org=org_a, actor=people["security"], row=approved)
    services.row_revoke(org=org_a, actor=people["security"], row=approved, reason="Retired")
    review.refresh_from_db()
    assert (review.outcome, review.decided_at is not None) == ("revoke", True)


def test_rows_expire_after_the_orgs_grace_days(org_a, approved):
    ApprovalSettings.objects.create(org=org_a, expiry_grace_days=3)
    day_after = approved.renewal_date + timedelta(days=1)
    assert list(rows_past_renewal(org=org_a, today=day_after)) == []
    with pytest.raises(ValidationError):
        services.row_expire(org=org_a, actor=None, row=approved, today=day_after)
    later = approved.renewal_date + timedelta(days=4)
    assert list(rows_past_renewal(org=org_a, today=later)) == [approved]
    row = services.row_expire(org=org_a, actor=None, row=approved, today=later)
    assert row.status == S.EXPIRED


def test_an_unsigned_renewal_holds_only_until_the_previous_date(org_a, approved, people):
    old_date = approved.renewal_date
    review = propose_renewal(org_a, approved, people)
    assert review.renews_from == old_date
    approved.refresh_from_db()
    assert approved.renewal_date > old_date
    day_after = old_date + timedelta(days=1)
    assert list(rows_past_renewal(org=org_a, today=old_date)) == []
    assert list(rows_past_renewal(org=org_a, today=day_after)) == [approved]
    row = services.row_expire(org=org_a, actor=None, row=approved, today=day_after)
    assert row.status == S.EXPIRED
    review.refresh_from_db()
    assert review.decided_at is not None and review.outcome == ""


def test_a_signed_renewal_holds_until_its_new_date(org_a, approved, people):
    old_date = approved.renewal_date
    propose_renewal(org_a, approved, people)
    for role in R.values:
        row = sign(org_a, approved, people, role)
    assert list(rows_past_renewal(org=org_a, today=old_date + timedelta(days=1))) == []
    assert list(rows_past_renewal(org=org_a, today=row.renewal_date + timedelta(days=1))) == [
        row]


@pytest.mark.parametrize("count", [1, 4])
def test_inbox_lists_proposed_renewals_in_constant_queries(count, org_a, make_row, people,
                                                           django_assert_num_queries):
    rows = [make_row(S.RENEWAL_DUE) for _ in range(count)]
    for row in rows:
        propose_renewal(org_a, row, people)
    make_row(S.RENEWAL_DUE)  # no renewal proposed yet: nothing to sign
    # rows (in review, or renewal due with a review decided renew) with their relations,
    # their live sign-offs, the actor's grants on them.
    with django_assert_num_queries(3):
        inbox = signoff_inbox(org=org_a, actor=people["finance"])
    assert [i.row for i in inbox] == rows
    assert all(i.roles == (R.FINANCE,) for i in inbox)
