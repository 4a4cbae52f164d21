"""Issue #13 §1: auditors read everything and change nothing. Even an auditor who was
left named on a row (its owners, a planted finance grant, a finding of theirs: state
from before the rules, or kept after a demotion) gets 403 on every write the row page and
the API offer, and nothing changes."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from guardian.shortcuts import assign_perm
from rest_framework.test import APIClient

from approvals.findings import finding_raise
from approvals.models import DenyRule, Finding, PolicyRow, RowEvidence, SignOff
from orgs.audit import AuditEvent
from orgs.events import NotificationEvent
from tests.conftest import login

S = PolicyRow.Status


def _snapshot(org, row):
    """Everything a write by the auditor could leave behind."""
    row = PolicyRow.objects.get(pk=row.pk)
    return (row.status, row.version, SignOff.objects.filter(row=row).count(),
            RowEvidence.objects.filter(row=row).count(),
            DenyRule.objects.for_org(org).count(),
            list(Finding.objects.for_org(org).values_list("state", "owner_id")),
            AuditEvent.objects.for_org(org).exclude(action__startswith="login").count(),
            NotificationEvent.objects.for_org(org).count())


@pytest.fixture
def named_auditor(org_a, make_row, people):
    """A row in review naming the auditor everywhere it could be named."""
    auditor = people["auditor"]
    row = make_row(S.IN_REVIEW)
    PolicyRow.objects.filter(pk=row.pk).update(
        app_owner=auditor, evidence_owner=auditor, engineering_owner=auditor)
    assign_perm("sign_finance_policyrow", auditor.user, row)
    finding_raise(org=org_a, kind="unowned_calls", dedupe_key="a", title="Calls", row=row,
                  owner=auditor)
    row.refresh_from_db()
    return auditor, row, Finding.objects.for_org(org_a).get()


def page_writes(row, finding, people):
    def url(name, *args):
        return reverse(f"approvals:{name}", args=["acme", *args])
    rid, fid = row.public_id, finding.public_id
    return [
        (url("row_sign", rid), {"role": SignOff.Role.FINANCE, "decision": "approve"}),
        (url("row_sign", rid), {"role": SignOff.Role.APP_OWNER, "decision": "approve"}),
        (url("row_reviewer_grant", rid), {"role": SignOff.Role.APP_OWNER,
                                          "member": str(people["admin"].public_id)}),
        (url("row_request_changes", rid), {"comment": "No"}),
        (url("row_edit", rid), {"business_reason": "Changed"}),
        (url("row_evidence_attach", rid), {"kind": "note", "title": "x", "note": "x"}),
        (url("row_smoke_start", rid), {}),
        (url("row_audit_extract", rid), {}),
        (url("request_create"), {"business_reason": "New"}),
        (url("deny_rule_create"), {"reason": "x", "action": "chat"}),
        (url("settings"), {"max_renewal_days": "30"}),
        (url("finding_acknowledge", fid), {}),
        (url("finding_resolve", fid), {"note": "done"}),
        (url("finding_assign", fid), {"owner": str(people["security"].public_id)}),
    ]


def test_every_page_write_answers_403_and_changes_nothing(client, org_a, people,
                                                           named_auditor):
    auditor, row, finding = named_auditor
    login(client, auditor)
    before = _snapshot(org_a, row)
    for url, data in page_writes(row, finding, people):
        assert client.post(url, data).status_code == 403, url
    assert _snapshot(org_a, row) == before


def test_every_api_write_answers_403_and_changes_nothing(org_a, people, named_auditor):
    auditor, row, finding = named_auditor
    api = APIClient()
    api.force_authenticate(auditor.user)
    base = "/api/v1/o/acme/"
    rid, fid = row.public_id, finding.public_id
    writes = [
        ("post", f"{base}rows/{rid}/signoffs/", {"role": "finance", "decision": "approve"}),
        ("post", f"{base}rows/{rid}/signoffs/", {"role": "app_owner", "decision": "approve"}),
        ("post", f"{base}rows/{rid}/request-changes/", {"comment": "No"}),
        ("patch", f"{base}rows/{rid}/", {"business_reason": "Changed"}),
        ("post", f"{base}rows/", {"business_reason": "New"}),
        ("post", f"{base}deny-rules/", {"reason": "x", "action": "chat",
                                        "owner": str(people["security"].public_id)}),
        ("post", f"{base}findings/{fid}/acknowledge/", {}),
        ("post", f"{base}findings/{fid}/assign/", {"owner": str(people["security"].public_id)}),
    ]
    before = _snapshot(org_a, row)
    for method, url, data in writes:
        response = getattr(api, method)(url, data, format="json")
        assert response.status_code == 403, (url, response.status_code, response.content)
    assert _snapshot(org_a, row) == before


@pytest.mark.parametrize("project_role", ["admin", "developer"])
def test_an_auditor_is_never_given_a_project_role_that_writes(org_a, people, project_a,
                                                              project_role):
    from projects.selectors import project_role_of
    from projects.services import project_role_set

    auditor = people["auditor"]
    with pytest.raises(ValidationError, match="Auditors can only be given the viewer role"):
        project_role_set(org=org_a, actor=people["owner"], project=project_a,
                         membership=auditor, role=project_role)
    assert project_role_of(project=project_a, user=auditor.user) is None
    assert project_role_set(org=org_a, actor=people["owner"], project=project_a,
                            membership=auditor, role="viewer") == "viewer"
