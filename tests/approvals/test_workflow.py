"""The transition table, exhaustively: every move NEXT lists works through its service and
writes exactly one audit event and one notification event; every verb from every other
state raises InvalidTransition and writes nothing."""

from datetime import timedelta

import pytest

from approvals import services
from approvals.models import PolicyRow, SignOff
from approvals.workflow import NEXT, VERBS, InvalidTransition, Status, target_for, targets
from tests.approvals.conftest import Counts, propose_renewal, sign

S = Status
ALL = list(Status.values)


def test_table_names_every_status_and_only_statuses():
    assert set(NEXT) == set(ALL)
    assert all(set(moves) <= set(ALL) for moves in NEXT.values())


def test_finished_states_are_terminal():
    assert NEXT[S.REVOKED] == {} and NEXT[S.EXPIRED] == {}


@pytest.mark.parametrize("verb", sorted(VERBS))
@pytest.mark.parametrize("status", ALL)
def test_target_for_follows_the_table(status, verb):
    allowed = targets(status, verb)
    if len(allowed) == 1:
        assert target_for(status, verb) == next(iter(allowed))
    elif allowed:  # resume: where the row was suspended from
        assert all(target_for(status, verb, prefer=t) == t for t in allowed)
    else:
        with pytest.raises(InvalidTransition):
            target_for(status, verb)


def _actor(people, verb):
    return {
        "submit": people["requester"], "screen": people["admin"],
        "start_testing": people["admin"], "start_evidence": people["admin"],
        "send_to_review": people["admin"], "request_changes": people["security"],
        "reject": people["security"], "mark_renewal_due": None, "renew": people["security"],
        "suspend": people["security"], "resume": people["security"],
        "revoke": people["security"], "expire": None,
    }[verb]


def _run(verb, org, row, people):
    """Call the service that makes `verb` happen (activate and renew are the third
    sign-off; a renewal starts with its review, which refuses rows not due)."""
    actor = _actor(people, verb)
    if verb == "renew":
        return services.renewal_review_start(org=org, actor=actor, row=row)
    extra = {
        "request_changes": {"comment": "Narrow the data classes."},
        "reject": {"comment": "Not for customer data."},
        "suspend": {"reason": "Incident 42"}, "revoke": {"reason": "Feature retired"},
        "expire": {"today": row.renewal_date + timedelta(days=1)},
    }.get(verb, {})
    return getattr(services, f"row_{verb}")(org=org, actor=actor, row=row, **extra)


ALLOWED = [(f, t, v) for f, moves in NEXT.items() for t, v in moves.items()]


@pytest.mark.parametrize(("source", "target", "verb"), ALLOWED,
                         ids=[f"{f}->{t}" for f, t, _ in ALLOWED])
def test_every_allowed_move_works_with_one_audit_and_one_event(
        source, target, verb, org_a, make_row, people):
    # A renewal is re-signed, and its last signature checks the evidence again.
    row = make_row(source, suspended_from=target if verb == "resume" else "",
                   evidence=True if verb == "renew" else None)
    before = Counts(org_a)
    if verb in ("activate", "renew"):
        if verb == "renew":
            propose_renewal(org_a, row, people)
        for role in (SignOff.Role.SECURITY, SignOff.Role.FINANCE):
            sign(org_a, row, people, role)
        before = Counts(org_a)
        row = sign(org_a, row, people, SignOff.Role.APP_OWNER)
    else:
        row = _run(verb, org_a, row, people)
    row.refresh_from_db()
    assert row.status == target
    audit, events = before.new_audit(), before.new_events()
    assert len(audit) == 1 and len(events) == 1
    assert audit[0].object_id == str(row.public_id)
    assert audit[0].changes["status"] == [source, target]
    assert events[0].kind.startswith("approval.")
    assert events[0].subject_id == str(row.public_id)


DISALLOWED = [(status, verb) for verb in sorted(VERBS) for status in ALL
              if not targets(status, verb)]


@pytest.mark.parametrize(("status", "verb"), DISALLOWED,
                         ids=[f"{v}-from-{s}" for s, v in DISALLOWED])
def test_every_other_move_raises_invalid_transition_and_writes_nothing(
        status, verb, org_a, make_row, people):
    row = make_row(status)
    before = Counts(org_a)
    version = row.version
    with pytest.raises(InvalidTransition):
        if verb == "activate":
            sign(org_a, row, people, SignOff.Role.SECURITY)
        else:
            _run(verb, org_a, row, people)
    row.refresh_from_db()
    assert (row.status, row.version) == (status, version)
    assert before.new_audit() == [] and before.new_events() == []
    assert not SignOff.objects.filter(row=row).exists()


def test_event_kinds_name_the_verb(org_a, make_row, people):
    row = make_row(evidence=True)
    before = Counts(org_a)
    row = services.row_submit(org=org_a, actor=people["requester"], row=row)
    row = services.row_screen(org=org_a, actor=people["admin"], row=row)
    row = services.row_start_testing(org=org_a, actor=people["admin"], row=row)
    row = services.row_start_evidence(org=org_a, actor=people["admin"], row=row)
    row = services.row_send_to_review(org=org_a, actor=people["admin"], row=row)
    for role in SignOff.Role.values:
        row = sign(org_a, row, people, role)
    assert row.status == S.ACTIVE and row.activated_at is not None
    assert [e.kind for e in before.new_events()] == [
        "approval.submitted", "approval.screened", "approval.testing_started",
        "approval.evidence_started", "approval.sent_to_review", "approval.signed",
        "approval.signed", "approval.activated"]
    assert [a.action for a in before.new_audit()] == [
        "approval.submitted", "approval.screened", "approval.testing_started",
        "approval.evidence_started", "approval.sent_to_review", "approval.signed",
        "approval.signed", "approval.signed"]


def test_suspended_row_resumes_to_renewal_due_when_suspended_there(org_a, make_row, people):
    row = make_row(S.RENEWAL_DUE)
    row = services.row_suspend(org=org_a, actor=people["security"], row=row, reason="Spike")
    assert (row.status, row.suspended_from) == (S.SUSPENDED, S.RENEWAL_DUE)
    row = services.row_resume(org=org_a, actor=people["security"], row=row)
    assert (row.status, row.suspended_from) == (S.RENEWAL_DUE, "")


def test_expire_refuses_a_row_not_past_its_renewal_date(org_a, make_row):
    from django.core.exceptions import ValidationError

    row = make_row(S.ACTIVE)
    with pytest.raises(ValidationError):
        services.row_expire(org=org_a, actor=None, row=row, today=row.renewal_date)
    assert PolicyRow.objects.get(pk=row.pk).status == S.ACTIVE


@pytest.mark.parametrize(("service", "status", "step"), [
    ("row_start_evidence", S.TESTING, "testing"),
    ("row_send_to_review", S.EVIDENCE, "evidence"),
])
def test_evidence_gate_blocks_the_move_when_it_names_missing_items(
        service, status, step, org_a, make_row, people, monkeypatch):
    from django.core.exceptions import ValidationError

    from approvals.services import workflow

    asked = []

    def missing(row, *, step):
        asked.append(step)
        return ["smoke test of chat_stream"]

    monkeypatch.setattr(workflow, "required_evidence_missing", missing)
    row = make_row(status)
    with pytest.raises(ValidationError, match="smoke test of chat_stream"):
        getattr(services, service)(org=org_a, actor=people["admin"], row=row)
    assert asked == [step]
    assert PolicyRow.objects.get(pk=row.pk).status == status


def test_docs_table_matches_next():
    """docs/approvals.md shows NEXT by hand; this keeps the two in sync."""
    import re

    from django.conf import settings

    text = (settings.BASE_DIR / "docs" / "approvals.md").read_text()
    labels = {s.label.lower(): s.value for s in Status}
    documented = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0] in labels:
            documented[labels[cells[0]]] = {
                value for label, value in labels.items()
                if re.search(rf"\b{label}\b", cells[1])}
    assert documented == {status: set(moves) for status, moves in NEXT.items()}


def test_the_system_may_suspend_at_a_cutoff(org_a, make_row):
    row = make_row(S.ACTIVE)
    before = Counts(org_a)
    row = services.row_suspend(org=org_a, actor=None, row=row, reason="Budget cutoff")
    assert row.status == S.SUSPENDED
    [audit] = before.new_audit()
    assert audit.actor is None and audit.changes["reason"] == [None, "Budget cutoff"]
