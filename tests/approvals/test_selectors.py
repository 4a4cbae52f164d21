"""Reads: the sign-off inbox (oldest first, constant queries), row lists, expiry candidates."""

from datetime import timedelta

import pytest
from django.utils import timezone
from guardian.shortcuts import assign_perm

from approvals.models import PolicyRow, SignOff
from approvals.selectors import row_get, row_list, rows_past_renewal, signoff_inbox
from tests.approvals.conftest import sign

S = PolicyRow.Status
R = SignOff.Role


def _age(row, days):
    PolicyRow.objects.filter(pk=row.pk).update(
        status_changed_at=timezone.now() - timedelta(days=days))


def test_inbox_shows_what_waits_for_each_reviewer_oldest_first(org_a, make_row, people):
    newer, older = make_row(S.IN_REVIEW), make_row(S.IN_REVIEW)
    _age(older, 3)
    make_row(S.EVIDENCE)  # not in review yet
    inbox = signoff_inbox(org=org_a, actor=people["security"])
    assert [i.row for i in inbox] == [older, newer]
    assert all(i.roles == (R.SECURITY,) for i in inbox)
    assert [i.roles for i in signoff_inbox(org=org_a, actor=people["app_owner"])] == [
        (R.APP_OWNER,), (R.APP_OWNER,)]
    assert signoff_inbox(org=org_a, actor=people["requester"]) == []
    assert signoff_inbox(org=org_a, actor=people["auditor"]) == []


def test_signed_rows_leave_the_inbox(org_a, make_row, people):
    row = make_row(S.IN_REVIEW)
    sign(org_a, row, people, R.SECURITY)
    assert signoff_inbox(org=org_a, actor=people["security"]) == []
    assert [i.row for i in signoff_inbox(org=org_a, actor=people["finance"])] == [row]


def test_inbox_includes_granted_rows_only(org_a, make_row, people):
    row, _other = make_row(S.IN_REVIEW), make_row(S.IN_REVIEW)
    assign_perm("sign_finance_policyrow", people["owner"].user, row)
    [item] = signoff_inbox(org=org_a, actor=people["owner"])
    assert (item.row, item.roles) == (row, (R.FINANCE,))


def test_inbox_is_org_scoped(org_a, make_row, outsider):
    make_row(S.IN_REVIEW)
    assert signoff_inbox(org=outsider.org, actor=outsider) == []


@pytest.mark.parametrize("count", [3, 30])
def test_inbox_query_count_is_constant(count, org_a, make_row, people, chat_model,
                                       django_assert_num_queries):
    for _ in range(count):
        make_row(S.IN_REVIEW)
    # rows with project/environment/caller/requester/app owner, their live sign-offs,
    # the actor's grants on them.
    with django_assert_num_queries(3):
        inbox = signoff_inbox(org=org_a, actor=people["security"])
        assert len(inbox) == count
        assert all(i.row.caller.name and i.row.requested_by.user.email for i in inbox)


def test_row_list_filters_and_is_org_scoped(org_a, make_row, outsider,
                                            django_assert_num_queries):
    draft, active = make_row(), make_row(S.ACTIVE)
    assert list(row_list(org=org_a, status=S.ACTIVE)) == [active]
    assert set(row_list(org=org_a, caller=draft.caller)) == {draft, active}
    assert list(row_list(org=outsider.org)) == []
    # one query: rows joined with project, environment, caller, requester, app owner
    with django_assert_num_queries(1):
        assert all(r.environment.name and r.app_owner.user.email
                   for r in row_list(org=org_a))


def test_row_get_404s_for_another_org(org_a, org_b, make_row):
    from django.http import Http404

    row = make_row()
    assert row_get(org=org_a, public_id=row.public_id) == row
    with pytest.raises(Http404):
        row_get(org=org_b, public_id=row.public_id)


def test_rows_past_renewal_are_the_ones_in_force_past_their_date(org_a, make_row):
    due = make_row(S.ACTIVE)
    suspended = make_row(S.SUSPENDED)
    make_row(S.REVOKED)
    make_row(S.DRAFT)
    later = due.renewal_date + timedelta(days=1)
    assert set(rows_past_renewal(org=org_a, today=later)) == {due, suspended}
    assert list(rows_past_renewal(org=org_a, today=due.renewal_date)) == []
