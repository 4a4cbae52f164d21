"""Who may move a row: each workflow verb refuses the wrong people with PermissionDenied
and writes nothing."""


import pytest
from django.core.exceptions import PermissionDenied

from approvals import services
from approvals.models import PolicyRow
from tests.approvals.conftest import Counts

S = PolicyRow.Status

# (service, state it moves from, persona refused, extra arguments)
REFUSED = [
    ("row_submit", S.DRAFT, "security", {}),
    ("row_submit", S.DRAFT, "outsider", {}),
    ("row_screen", S.SUBMITTED, "requester", {}),
    ("row_screen", S.SUBMITTED, "security", {}),
    ("row_start_testing", S.SCREENING, "finance", {}),
    ("row_start_evidence", S.TESTING, "requester", {}),
    ("row_send_to_review", S.EVIDENCE, "app_owner", {}),
    ("row_request_changes", S.IN_REVIEW, "requester", {"comment": "x"}),
    ("row_request_changes", S.IN_REVIEW, "auditor", {"comment": "x"}),
    ("row_reject", S.SCREENING, "requester", {"comment": "x"}),
    ("row_reject", S.SCREENING, "outsider", {"comment": "x"}),
    ("row_mark_renewal_due", S.ACTIVE, "requester", {}),
    ("renewal_review_start", S.RENEWAL_DUE, "requester", {}),
    ("renewal_review_start", S.RENEWAL_DUE, "finance", {}),
    ("row_suspend", S.ACTIVE, "admin", {"reason": "x"}),
    ("row_suspend", S.ACTIVE, "requester", {"reason": "x"}),
    ("row_resume", S.SUSPENDED, "finance", {}),
    ("row_revoke", S.ACTIVE, "finance", {"reason": "x"}),
    ("row_revoke", S.ACTIVE, "outsider", {"reason": "x"}),
    ("row_expire", S.ACTIVE, "requester", {}),
]


@pytest.mark.parametrize(("service", "status", "persona", "extra"), REFUSED,
                         ids=[f"{s}-{p}" for s, _, p, _ in REFUSED])
def test_wrong_people_are_refused(service, status, persona, extra, org_a, make_row, people,
                                  outsider):
    row = make_row(status, suspended_from=S.ACTIVE if status == S.SUSPENDED else "")
    actor = outsider if persona == "outsider" else people[persona]
    before = Counts(org_a)
    with pytest.raises(PermissionDenied):
        getattr(services, service)(org=org_a, actor=actor, row=row, **extra)
    assert PolicyRow.objects.get(pk=row.pk).status == status
    assert before.new_audit() == [] and before.new_events() == []


def test_send_back_needs_a_comment(org_a, make_row, people):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.row_request_changes(org=org_a, actor=people["security"],
                                     row=make_row(S.IN_REVIEW), comment="  ")
