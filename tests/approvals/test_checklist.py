"""The evidence checklist: the seed's defaults per tier and data class, each line's state,
and the gates that refuse a move (or an activation) while evidence is missing, rejected
or expired."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from approvals import services
from approvals.checklist import row_checklist
from approvals.gates import required_evidence_missing
from approvals.models import PolicyRow, RowEvidence, SignOff
from approvals.services.evidence import row_evidence_collect
from evidence.items import evidence_item_review
from evidence.models import EvidenceItem
from tests.approvals.conftest import Counts, attach_required_evidence, sign

S = PolicyRow.Status
K = EvidenceItem.Kind


def collect(row, people, kind, **fields):
    fields.setdefault("content", {"note": kind})
    return row_evidence_collect(org=row.org, actor=people["owner"], row=row, kind=kind,
                                title=kind, **fields).item


def kinds(checklist):
    return [(line.kind, line.action) for line in checklist.lines]


def test_production_row_with_internal_data_needs_the_seeds_full_pack(make_row):
    row = make_row()
    assert kinds(row_checklist(row)) == [
        (K.CATALOG_ROW, ""), (K.SMOKE_TEST, "chat"), (K.SMOKE_TEST, "chat_stream"),
        (K.USAGE_ROW, ""), (K.BILLING_ROW, ""), (K.ROLLBACK_TEST, ""), (K.DPA_SCOPE, ""),
        (K.RETENTION, ""), (K.LOGGING_SCOPE, ""), (K.REDACTION_RULE, "")]
    assert [line.label for line in row_checklist(row).lines][:3] == [
        "Catalog row", "Route smoke test: chat", "Route smoke test: streaming chat"]


def test_public_data_needs_no_data_boundary_evidence(make_row):
    row = make_row(data_classes=["public"], allowed_actions=["chat"])
    assert kinds(row_checklist(row)) == [
        (K.CATALOG_ROW, ""), (K.SMOKE_TEST, "chat"), (K.USAGE_ROW, ""), (K.BILLING_ROW, ""),
        (K.ROLLBACK_TEST, "")]


@pytest.mark.parametrize("tier", ["development", "staging"])
def test_non_production_rows_require_nothing_by_default(make_row, project_a, tier):
    row = make_row(environment=project_a.environments.get(tier=tier), renewal_date=None,
                   renewal_triggers=[])
    checklist = row_checklist(row)
    assert not checklist.required and checklist.blocking == []
    assert required_evidence_missing(row, step="evidence") == []


def test_every_line_starts_missing_and_blocks(make_row):
    checklist = row_checklist(make_row())
    assert {line.state for line in checklist.lines} == {"missing"}
    assert len(checklist.blocking) == 10


def test_each_state_follows_the_newest_live_item(make_row, people):
    row = make_row()
    usage = collect(row, people, K.USAGE_ROW)
    billing = collect(row, people, K.BILLING_ROW)
    rollback = collect(row, people, K.ROLLBACK_TEST, valid_until=timezone.localdate())
    evidence_item_review(org=row.org, actor=people["security"], item=billing,
                         decision="accepted")
    retention = collect(row, people, K.RETENTION)
    evidence_item_review(org=row.org, actor=people["security"], item=retention,
                         decision="rejected", comment="Thirty days, not zero")
    tomorrow = timezone.localdate() + timedelta(days=1)
    states = {line.kind: line for line in row_checklist(row, today=tomorrow).lines}
    assert states[K.USAGE_ROW].state == "pending" and states[K.USAGE_ROW].item == usage
    assert states[K.BILLING_ROW].state == "accepted"
    assert states[K.ROLLBACK_TEST].state == "expired" and states[K.ROLLBACK_TEST].item == rollback
    assert states[K.RETENTION].state == "rejected"
    assert states[K.RETENTION].problem == "Retention setting: rejected (Thirty days, not zero)"
    assert states[K.DPA_SCOPE].state == "missing"


def test_a_new_revision_replaces_a_rejected_item(make_row, people):
    row = make_row()
    old = collect(row, people, K.USAGE_ROW)
    evidence_item_review(org=row.org, actor=people["security"], item=old,
                         decision="rejected", comment="Wrong key")
    new = collect(row, people, K.USAGE_ROW, supersedes=old)
    line = next(li for li in row_checklist(row).lines if li.kind == K.USAGE_ROW)
    assert (line.state, line.item) == ("pending", new)
    assert len(row_checklist(row).items) == 2  # the old revision stays on record


@pytest.mark.parametrize("content", [{"passed": False}, {"passed": "true"}, {"passed": 1},
                                     {}])
def test_a_smoke_test_closes_its_action_only_when_it_passed(make_row, people, content):
    row = make_row()
    collect(row, people, K.SMOKE_TEST, action="chat", content=content or {"status": 200})
    line = next(li for li in row_checklist(row).lines if li.action == "chat")
    assert line.state == "missing"


def test_a_passed_smoke_test_closes_only_its_own_action(make_row, people):
    row = make_row()
    collect(row, people, K.SMOKE_TEST, action="chat", content={"passed": True})
    assert required_evidence_missing(row, step="testing") == [
        "Route smoke test: streaming chat: no passed smoke test attached"]


def test_checklist_reads_in_one_query(make_row, people, django_assert_num_queries):
    row = make_row()
    attach_required_evidence(row, people)
    row = PolicyRow.objects.select_related("environment").get(pk=row.pk)
    with django_assert_num_queries(1):  # the links with their items
        assert row_checklist(row).blocking == []


# --- the gates ------------------------------------------------------------------------

def test_leaving_testing_without_smoke_tests_is_refused_and_changes_nothing(
        org_a, make_row, people):
    row = make_row(S.TESTING, evidence=False)
    before = Counts(org_a)
    with pytest.raises(ValidationError) as exc:
        services.row_start_evidence(org=org_a, actor=people["admin"], row=row)
    assert exc.value.message_dict["evidence"] == [
        "Required evidence: Route smoke test: chat: no passed smoke test attached",
        "Required evidence: Route smoke test: streaming chat: no passed smoke test attached"]
    assert PolicyRow.objects.get(pk=row.pk).status == S.TESTING
    assert before.new_audit() == [] and before.new_events() == []


def test_leaving_testing_needs_only_the_smoke_tests(org_a, make_row, people):
    row = make_row(S.TESTING, evidence=False)
    for action in row.allowed_actions:
        collect(row, people, K.SMOKE_TEST, action=action, content={"passed": True})
    row = services.row_start_evidence(org=org_a, actor=people["admin"], row=row)
    assert row.status == S.EVIDENCE


def test_sending_to_review_names_what_is_missing_rejected_and_expired(
        org_a, make_row, people):
    row = make_row(S.EVIDENCE, evidence=False)
    items = attach_required_evidence(row, people)
    usage = next(i for i in items if i.kind == K.USAGE_ROW)
    evidence_item_review(org=org_a, actor=people["security"], item=usage,
                         decision="rejected", comment="Other key")
    EvidenceItem.objects.filter(kind=K.BILLING_ROW).update(
        valid_until=timezone.localdate() - timedelta(days=1))
    RowEvidence.objects.filter(item__kind=K.ROLLBACK_TEST).delete()
    before = Counts(org_a)
    with pytest.raises(ValidationError) as exc:
        services.row_send_to_review(org=org_a, actor=people["admin"], row=row)
    yesterday = timezone.localdate() - timedelta(days=1)
    assert exc.value.message_dict["evidence"] == [
        "Required evidence: Usage row: rejected (Other key)",
        f"Required evidence: Billing row: expired on {yesterday:%Y-%m-%d}",
        "Required evidence: Rollback test: missing"]
    assert PolicyRow.objects.get(pk=row.pk).status == S.EVIDENCE
    assert before.new_audit() == [] and before.new_events() == []


def test_pending_evidence_does_not_block_sending_to_review(org_a, make_row, people):
    row = make_row(S.EVIDENCE)
    assert {line.state for line in row_checklist(row).lines} == {"pending"}
    assert services.row_send_to_review(org=org_a, actor=people["admin"], row=row).status \
        == S.IN_REVIEW


def test_evidence_that_expired_in_review_blocks_activation(org_a, make_row, people):
    row = make_row(S.IN_REVIEW)
    sign(org_a, row, people, SignOff.Role.SECURITY)
    sign(org_a, row, people, SignOff.Role.FINANCE)
    EvidenceItem.objects.filter(kind=K.USAGE_ROW).update(
        valid_until=timezone.localdate() - timedelta(days=1))
    with pytest.raises(ValidationError, match="Usage row: expired"):
        sign(org_a, row, people, SignOff.Role.APP_OWNER)
    row.refresh_from_db()
    assert row.status == S.IN_REVIEW and row.activated_at is None
    assert not row.signoffs.filter(role=SignOff.Role.APP_OWNER).exists()


def test_screening_collects_the_catalog_row_as_system_evidence(org_a, make_row, people,
                                                               chat_model):
    row = make_row(S.SUBMITTED, evidence=False)
    before = Counts(org_a)
    row = services.row_screen(org=org_a, actor=people["admin"], row=row)
    [link] = RowEvidence.objects.filter(row=row).select_related("item")
    item = link.item
    assert (item.kind, item.collector_label, item.review_status) == (K.CATALOG_ROW, "system",
                                                                     "pending")
    [entry] = item.content["entries"]
    assert entry["entry"] == str(chat_model.public_id)
    assert entry["snapshot_sha256"] == chat_model.snapshot.sha256
    assert entry["snapshot_date"] == "2026-11-01" and entry["families"] == ["chat_completions"]
    assert entry["availability"] == "available" and "input_price" in entry
    [audit] = before.new_audit()  # the screen keeps its one audit event, naming the item
    assert audit.changes["catalog_evidence"] == [None, str(item.public_id)]
    line = row_checklist(row).lines[0]
    assert (line.kind, line.state) == (K.CATALOG_ROW, "pending")
