"""One row's page, its workflow buttons, sign-offs through the page, and the sign-off
inbox: who sees what, who may press which button, and that a refusal changes nothing."""

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from approvals import services
from approvals.decisions.spend import spend_add
from approvals.models import PolicyRow, RowEvidence, SignOff
from approvals.permissions import has_grant
from evidence.models import EvidenceItem
from orgs.audit import AuditEvent
from tests.approvals.conftest import Counts, clone_rows, make_entry, make_snapshot, sign
from tests.conftest import login

S = PolicyRow.Status
R = SignOff.Role


def url(name, row, org="acme"):
    return reverse(f"approvals:{name}", args=[org, row.public_id])


def page(client, row):
    return client.get(url("row_detail", row))


def actions(response) -> str:
    """The page's action area (the buttons this person gets)."""
    body = response.content.decode()
    start = body.index('id="row-actions"')
    return body[start:body.index("</section>", start)]


@pytest.fixture
def cast(people, outsider):
    return {**people, "outsider": outsider}


def audit_count(org):
    return AuditEvent.objects.for_org(org).count()


# --- Who sees the page, and which buttons ----------------------------------------------------


@pytest.mark.parametrize("persona", ["requester", "security", "finance", "app_owner", "admin",
                                     "auditor", "owner"])
def test_every_member_reads_the_row(client, cast, make_row, persona):
    row = make_row()
    login(client, cast[persona])
    response = page(client, row)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Support reply summarizer" in body and "gpt-chat" in body


def test_outsider_gets_404_on_the_page_and_every_post(client, cast, make_row):
    row = make_row(S.IN_REVIEW)
    login(client, cast["outsider"])
    assert page(client, row).status_code == 404
    for name in ("row_submit", "row_sign", "row_reviewer_grant", "row_revoke"):
        assert client.post(url(name, row), {"role": "security", "decision": "approve"}
                           ).status_code == 404
    # Their own org's slug does not reach our row either.
    assert client.get(url("row_detail", row, org="globex")).status_code == 404


def test_auditor_sees_the_row_but_no_buttons(client, cast, make_row):
    row = make_row(S.IN_REVIEW)
    login(client, cast["auditor"])
    response = page(client, row)
    body = response.content.decode()
    assert response.context["moves"] == [] and response.context["sign_roles"] == []
    assert not response.context["can_edit"] and not response.context["can_grant"]
    assert "Nothing for you to do on this row now." in actions(response)
    assert "<button" not in actions(response) and "Approve as" not in body


def test_page_offers_only_the_moves_the_table_and_the_person_allow(client, cast, make_row):
    row = make_row()  # draft
    login(client, cast["requester"])
    response = page(client, row)
    assert [m["label"] for m in response.context["moves"]] == ["Submit for review"]
    assert response.context["can_edit"]
    login(client, cast["admin"])
    row = make_row(S.SUBMITTED)
    assert [m["label"] for m in page(client, row).context["moves"]] == [
        "Screen", "Request changes", "Reject"]
    login(client, cast["security"])
    row = make_row(S.ACTIVE)
    assert [m["label"] for m in page(client, row).context["moves"]] == ["Suspend", "Revoke"]


def test_reviewer_in_review_signs_rather_than_rejects(client, cast, make_row):
    row = make_row(S.IN_REVIEW)
    login(client, cast["security"])
    response = page(client, row)
    assert [r.value for r in response.context["sign_roles"]] == [R.SECURITY]
    assert [m["verb"] for m in response.context["moves"]] == ["request_changes"]
    body = response.content.decode()
    assert "Approve as security" in body and "Reject as security" in body


def test_renewal_review_link_only_when_renewal_is_due(client, cast, make_row):
    login(client, cast["admin"])
    assert "Renewal review" not in page(client, make_row(S.ACTIVE)).content.decode()
    assert "Renewal review" in page(client, make_row(S.RENEWAL_DUE)).content.decode()


def test_page_shows_the_row_in_the_seeds_words(client, cast, org_a, make_row):
    row = make_row(S.ACTIVE)
    spend_add(org=org_a, row=row, amount="125.50")
    login(client, cast["auditor"])
    body = page(client, row).content.decode()
    for text in ("Allowed actions", "Internal",
                 "Monthly budget $500.00: spent $125.50", "(25 %)", "Daily cap $40.00",
                 "No fallback", "app-owner@acme.test", "Model version change or retirement",
                 "Spend spike", "Version 1"):
        assert text in body, text


# --- Each move through the page ---------------------------------------------------------------

YESTERDAY = timezone.localdate() - timedelta(days=1)
# verb: (state it starts from, who may, who may not, form data, state it ends in)
MOVE_CASES = {
    "submit": (S.DRAFT, "requester", "security", {}, S.SUBMITTED),
    "screen": (S.SUBMITTED, "admin", "requester", {}, S.SCREENING),
    "start_testing": (S.SCREENING, "admin", "finance", {}, S.TESTING),
    "start_evidence": (S.TESTING, "admin", "requester", {}, S.EVIDENCE),
    "send_to_review": (S.EVIDENCE, "admin", "security", {}, S.IN_REVIEW),
    "request_changes": (S.SUBMITTED, "security", "requester", {"comment": "Name the key."},
                        S.CHANGES_REQUESTED),
    "reject": (S.SCREENING, "finance", "requester", {"comment": "Budget too high."},
               S.REJECTED),
    "mark_renewal_due": (S.ACTIVE, "admin", "security", {}, S.RENEWAL_DUE),
    "suspend": (S.ACTIVE, "security", "admin", {"reason": "Incident 42."}, S.SUSPENDED),
    "resume": (S.SUSPENDED, "security", "admin", {}, S.ACTIVE),
    "revoke": (S.ACTIVE, "security", "finance", {"reason": "Feature retired."}, S.REVOKED),
    "expire": (S.ACTIVE, "admin", "security", {}, S.EXPIRED),
}


def case_row(make_row, verb, status=None):
    start = MOVE_CASES[verb][0] if status is None else status
    row = make_row(start, suspended_from=S.ACTIVE if start == S.SUSPENDED else "")
    if verb == "expire":
        PolicyRow.objects.filter(pk=row.pk).update(renewal_date=YESTERDAY)
        row.refresh_from_db()
    return row


def assert_unchanged(org, row, status, audits):
    row.refresh_from_db()
    assert row.status == status
    assert audit_count(org) == audits


@pytest.mark.parametrize("verb", MOVE_CASES)
def test_move_button_works_for_the_right_person(client, cast, org_a, make_row, verb):
    start, who, _wrong, data, end = MOVE_CASES[verb]
    row = case_row(make_row, verb)
    login(client, cast[who])
    assert verb in [m["verb"] for m in page(client, row).context["moves"]]
    before = Counts(org_a)
    response = client.post(url(f"row_{verb}", row), data)
    assert response.status_code == 302 and response.url == url("row_detail", row)
    row.refresh_from_db()
    assert row.status == end
    assert [e.changes["status"] for e in before.new_audit()] == [[start, end]]
    follow = page(client, row)
    assert f"The row is now {end.label.lower()}" in follow.content.decode()


@pytest.mark.parametrize("verb", MOVE_CASES)
def test_move_is_refused_with_403_for_the_wrong_person(client, cast, org_a, make_row, verb):
    start, _who, wrong, data, _end = MOVE_CASES[verb]
    row = case_row(make_row, verb)
    login(client, cast[wrong])
    assert verb not in [m["verb"] for m in page(client, row).context["moves"]]
    audits = audit_count(org_a)
    assert client.post(url(f"row_{verb}", row), data).status_code == 403
    assert_unchanged(org_a, row, start, audits)


@pytest.mark.parametrize("verb", MOVE_CASES)
def test_move_in_the_wrong_state_answers_409_and_changes_nothing(client, cast, org_a,
                                                                   make_row, verb):
    _start, who, _wrong, data, _end = MOVE_CASES[verb]
    wrong_state = S.ACTIVE if verb == "submit" else S.DRAFT
    row = case_row(make_row, verb, status=wrong_state)
    login(client, cast[who])
    audits = audit_count(org_a)
    response = client.post(url(f"row_{verb}", row), data)
    assert response.status_code == 409
    assert "Cannot " in actions(response)
    assert_unchanged(org_a, row, wrong_state, audits)


def test_auditor_pressing_any_button_gets_403(client, cast, org_a, make_row):
    login(client, cast["auditor"])
    for verb, (start, *_rest) in MOVE_CASES.items():
        row = case_row(make_row, verb)
        audits = audit_count(org_a)
        assert client.post(url(f"row_{verb}", row), {"comment": "x", "reason": "x"}
                           ).status_code == 403, verb
        assert_unchanged(org_a, row, start, audits)


def test_send_back_without_a_comment_shows_the_field_error(client, cast, org_a, make_row):
    row = make_row(S.SUBMITTED)
    login(client, cast["security"])
    audits = audit_count(org_a)
    response = client.post(url("row_request_changes", row), {"comment": "  "})
    assert response.status_code == 400
    assert "Say why" in actions(response)
    assert_unchanged(org_a, row, S.SUBMITTED, audits)


def test_a_failed_screen_names_the_model_and_changes_nothing(client, cast, org_a, make_row):
    row = make_row(S.SUBMITTED)
    # A newer catalog import no longer lists the row's model.
    make_entry(make_snapshot(org_a, day=date(2026, 11, 20), sha="b"), "gpt-other")
    login(client, cast["admin"])
    audits = audit_count(org_a)
    response = client.post(url("row_screen", row))
    assert response.status_code == 400
    assert "gpt-chat" in actions(response)
    assert_unchanged(org_a, row, S.SUBMITTED, audits)


def test_get_on_a_move_url_is_405(client, cast, make_row):
    row = make_row()
    login(client, cast["requester"])
    assert client.get(url("row_submit", row)).status_code == 405


def test_htmx_post_gets_hx_location(client, cast, make_row):
    row = make_row()
    login(client, cast["requester"])
    response = client.post(url("row_submit", row), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert url("row_detail", row) in response["HX-Location"]
    row.refresh_from_db()
    assert row.status == S.SUBMITTED


def test_htmx_refusal_gets_the_action_area_back(client, cast, make_row):
    row = make_row(S.SUBMITTED)
    login(client, cast["security"])
    response = client.post(url("row_reject", row), {"comment": ""}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    body = response.content.decode()
    assert body.lstrip().startswith('<section class="card shadow-sm" id="row-actions"')
    assert "Say why" in body


# --- Sign-offs through the page -----------------------------------------------------------------


def post_sign(client, row, role, decision="approve", comment=""):
    return client.post(url("row_sign", row), {"role": role, "decision": decision,
                                             "comment": comment})


def test_three_signatures_through_the_page_activate_the_row(client, cast, org_a, make_row):
    row = make_row(S.IN_REVIEW)
    for persona, role in (("security", R.SECURITY), ("finance", R.FINANCE),
                          ("app_owner", R.APP_OWNER)):
        login(client, cast[persona])
        assert [r.value for r in page(client, row).context["sign_roles"]] == [role]
        assert post_sign(client, row, role, comment="ok").status_code == 302
    row.refresh_from_db()
    assert row.status == S.ACTIVE
    response = page(client, row)
    body = response.content.decode()
    assert "approved version 1" in body and "Security, finance and the app owner approved" \
        in body
    activated = response.context["timeline"][0]
    assert (activated.title, activated.detail) == ("Activated by the sign-offs",
                                                   "In review → Active")


def test_missing_signoffs_are_listed(client, cast, org_a, make_row, people):
    row = make_row(S.IN_REVIEW)
    sign(org_a, row, people, R.SECURITY)
    login(client, cast["auditor"])
    response = page(client, row)
    assert [r.value for r in response.context["missing_roles"]] == [R.FINANCE, R.APP_OWNER]
    assert "Still missing for version 1: Finance, App owner." in response.content.decode()


def test_one_person_cannot_sign_two_roles(client, cast, org_a, make_row):
    from guardian.shortcuts import assign_perm

    row = make_row(S.IN_REVIEW)
    assign_perm("sign_finance_policyrow", cast["security"].user, row)
    login(client, cast["security"])
    assert post_sign(client, row, R.SECURITY).status_code == 302
    assert [r.value for r in page(client, row).context["sign_roles"]] == []
    audits = audit_count(org_a)
    response = post_sign(client, row, R.FINANCE)
    assert response.status_code == 403
    assert "one person signs one role" in response.content.decode()
    assert SignOff.objects.filter(row=row).count() == 1
    assert_unchanged(org_a, row, S.IN_REVIEW, audits)


def test_requester_cannot_sign_security(client, cast, org_a, make_row):
    row = make_row(S.IN_REVIEW)
    PolicyRow.objects.filter(pk=row.pk).update(requested_by=cast["security"])
    login(client, cast["security"])
    assert page(client, row).context["sign_roles"] == []
    audits = audit_count(org_a)
    response = post_sign(client, row, R.SECURITY)
    assert response.status_code == 403
    assert "The requester cannot sign security" in response.content.decode()
    assert not SignOff.objects.filter(row=row).exists()
    assert_unchanged(org_a, row, S.IN_REVIEW, audits)


def test_reject_without_a_comment_is_refused_with_the_reason(client, cast, org_a, make_row):
    row = make_row(S.IN_REVIEW)
    login(client, cast["finance"])
    audits = audit_count(org_a)
    response = post_sign(client, row, R.FINANCE, decision="reject")
    assert response.status_code == 400
    assert "Say why you reject the row." in actions(response)
    assert_unchanged(org_a, row, S.IN_REVIEW, audits)


def test_reject_through_the_page_sends_the_row_back(client, cast, make_row):
    row = make_row(S.IN_REVIEW)
    login(client, cast["finance"])
    assert post_sign(client, row, R.FINANCE, "reject", "Budget too high.").status_code == 302
    row.refresh_from_db()
    assert row.status == S.REJECTED


def test_signing_outside_review_answers_409(client, cast, org_a, make_row):
    row = make_row(S.EVIDENCE)
    login(client, cast["security"])
    audits = audit_count(org_a)
    response = post_sign(client, row, R.SECURITY)
    assert response.status_code == 409
    assert "Rows are signed in review" in actions(response)
    assert_unchanged(org_a, row, S.EVIDENCE, audits)


def test_bad_sign_input_is_a_400_never_a_500(client, cast, org_a, make_row):
    row = make_row(S.IN_REVIEW)
    login(client, cast["security"])
    assert client.post(url("row_sign", row), {"role": "ceo", "decision": "approve"}
                       ).status_code == 400
    assert client.post(url("row_sign", row), {"role": "security", "decision": "maybe"}
                       ).status_code == 400
    assert not SignOff.objects.filter(row=row).exists()


def test_page_says_an_edit_voided_the_signatures(client, cast, org_a, make_row, people):
    row = make_row(S.IN_REVIEW)
    sign(org_a, row, people, R.SECURITY)
    sign(org_a, row, people, R.FINANCE, SignOff.Decision.REJECT, "Budget too high.")
    row.refresh_from_db()
    services.row_update(org=org_a, actor=people["requester"], row=row,
                        monthly_budget="300.00")
    login(client, cast["requester"])
    response = page(client, row)
    assert len(response.context["voided_signoffs"]) == 2
    assert response.context["live_signoffs"] == []
    body = response.content.decode()
    assert "Voided" in body and "The row was edited to version 2" in body


def test_timeline_shows_events_signoffs_newest_first(client, cast, org_a, make_row, people):
    row = make_row()
    login(client, cast["requester"])
    client.post(url("row_submit", row))
    PolicyRow.objects.filter(pk=row.pk).update(status=S.IN_REVIEW)
    sign(org_a, row, people, R.SECURITY, comment="Data scope fine.")
    login(client, cast["auditor"])
    timeline = page(client, row).context["timeline"]
    assert timeline[0].title == "Security approved version 1"
    assert timeline[0].detail == "Data scope fine." and timeline[0].kind == "signoff"
    titles = [e.title for e in timeline]
    assert titles.index("Submitted for review") < titles.index("Requested")
    submitted = timeline[titles.index("Submitted for review")]
    assert submitted.actor == "member@acme.test" and "Draft → Submitted" in submitted.detail
    assert [e.at for e in timeline] == sorted((e.at for e in timeline), reverse=True)


def attach(org, row, actor, title):
    # Straight to the tables: the evidence upload and its service belong to the checklist.
    item = EvidenceItem.objects.create(org=org, kind=EvidenceItem.Kind.SMOKE_TEST, title=title,
                                       sha256="0" * 64, collector=actor,
                                       collector_label=actor.user.email)
    return RowEvidence.objects.create(org=org, row=row, item=item, attached_by=actor)


def test_timeline_shows_evidence_attachments(client, cast, org_a, make_row, people):
    row = make_row(S.EVIDENCE, evidence=False)
    attach(org_a, row, people["owner"], "Chat smoke test 2026-11-30")
    login(client, cast["auditor"])
    [entry] = [e for e in page(client, row).context["timeline"] if e.kind == "evidence"]
    assert entry.title == "Evidence attached: Chat smoke test 2026-11-30"
    assert (entry.actor, entry.detail) == ("owner@acme.test", "Route smoke test")


# --- Naming a reviewer --------------------------------------------------------------------------


def test_admin_names_a_reviewer_who_may_then_sign(client, cast, org_a, make_row):
    row = make_row(S.IN_REVIEW)
    login(client, cast["admin"])
    response = client.post(url("row_reviewer_grant", row),
                           {"member": str(cast["owner"].public_id), "role": R.APP_OWNER})
    assert response.status_code == 302
    login(client, cast["owner"])
    assert [r.value for r in page(client, row).context["sign_roles"]] == [R.APP_OWNER]


def test_security_cannot_name_a_finance_reviewer(client, cast, org_a, make_row):
    row = make_row(S.IN_REVIEW)
    login(client, cast["security"])
    audits = audit_count(org_a)
    assert client.post(url("row_reviewer_grant", row),
                       {"member": str(cast["finance"].public_id), "role": R.FINANCE}
                       ).status_code == 403
    assert audit_count(org_a) == audits


def test_reviewer_from_another_org_is_not_accepted(client, cast, org_a, make_row):
    row = make_row(S.IN_REVIEW)
    login(client, cast["security"])
    audits = audit_count(org_a)
    response = client.post(url("row_reviewer_grant", row),
                           {"member": str(cast["outsider"].public_id), "role": R.SECURITY})
    assert response.status_code == 400
    assert audit_count(org_a) == audits


def test_requester_is_not_named_security_reviewer(client, cast, org_a, make_row):
    row = make_row(S.IN_REVIEW)
    login(client, cast["security"])
    response = client.post(url("row_reviewer_grant", row),
                           {"member": str(cast["requester"].public_id), "role": R.SECURITY})
    assert response.status_code == 400
    # The requester is not even offered, so the choice itself is refused.
    assert ("Choose one of the people listed: auditors, and the requester for security or "
            "finance, cannot be named.") in response.content.decode()
    assert not has_grant(cast["requester"], row, R.SECURITY)


# --- The sign-off inbox -------------------------------------------------------------------------


def inbox_url(org="acme"):
    return reverse("approvals:inbox", args=[org])


def test_inbox_lists_what_waits_for_me_oldest_first(client, cast, org_a, make_row, people):
    older, newer = make_row(S.IN_REVIEW), make_row(S.IN_REVIEW)
    PolicyRow.objects.filter(pk=older.pk).update(
        status_changed_at=timezone.now() - timedelta(days=3))
    signed = make_row(S.IN_REVIEW)
    sign(org_a, signed, people, R.SECURITY)
    make_row(S.EVIDENCE)  # not in review yet
    login(client, cast["security"])
    response = client.get(inbox_url())
    assert response.status_code == 200
    entries = response.context["entries"]
    assert [e["item"].row for e in entries] == [older, newer]
    assert entries[0]["roles"] == ["Security"]
    body = response.content.decode()
    assert url("row_detail", older) in body and "3\xa0days" in body


def test_inbox_of_the_app_owner_and_of_an_auditor(client, cast, make_row):
    row = make_row(S.IN_REVIEW)
    login(client, cast["app_owner"])
    assert [e["roles"] for e in client.get(inbox_url()).context["entries"]] == [["App owner"]]
    login(client, cast["requester"])  # the requester signs nothing on their own row
    assert client.get(inbox_url()).context["entries"] == []
    login(client, cast["auditor"])
    response = client.get(inbox_url())
    assert response.context["entries"] == []
    assert "Nothing waits for your signature." in response.content.decode()
    assert row  # still in review, just not theirs to sign


def test_outsider_gets_404_on_the_inbox(client, cast):
    login(client, cast["outsider"])
    assert client.get(inbox_url()).status_code == 404


def test_dashboard_links_the_inbox_with_its_count(client, cast, make_row):
    make_row(S.IN_REVIEW), make_row(S.IN_REVIEW)
    login(client, cast["finance"])
    dashboard = client.get(reverse("orgs:dashboard", args=["acme"])).content.decode()
    assert f'hx-get="{inbox_url()}?part=link"' in dashboard
    link = client.get(inbox_url() + "?part=link", HTTP_HX_REQUEST="true")
    assert link.content.decode().strip() == f'<a href="{inbox_url()}" id="inbox-link">Inbox (2)</a>'


# --- Query counts -------------------------------------------------------------------------------

# session, user, membership + org (+ unread count), the org switcher; the row (joined with
# its credential, fallback and owners), its models, its signatures; the reviewer's grants
# (in review only); spend counters; the lint snapshot (rows, their models, live signatures,
# catalog snapshots, current models); audit events; evidence links; the evidence
# section's checklist (the row's items with their links); the findings include's open
# findings and its spend chart's counters (two more, issue #7); the smoke-test section's
# latest runs and the org's gateway (two more, approvals/smoke_tests.py, issue #7); the
# members who may be named reviewer for the one role this security reviewer may delegate
# (one more, issue #13: security names security reviewers, admins no longer do).
ROW_PAGE_QUERIES = 22


@pytest.mark.parametrize("others", [10, 500])
def test_row_page_queries_do_not_grow_with_the_matrix(client, cast, make_row, others,
                                                      django_assert_num_queries):
    row = make_row(S.IN_REVIEW)
    clone_rows(row, others, status=S.ACTIVE)
    login(client, cast["security"])
    page(client, row)  # warm the session
    with django_assert_num_queries(ROW_PAGE_QUERIES):
        response = page(client, row)
    assert response.context["sign_roles"] == [R.SECURITY]


def test_row_page_queries_do_not_grow_with_signoffs_and_events(
        client, cast, org_a, make_row, people, django_assert_num_queries):
    quiet = make_row(S.IN_REVIEW)
    busy = make_row(S.IN_REVIEW)
    sign(org_a, busy, people, R.SECURITY)
    sign(org_a, busy, people, R.FINANCE, SignOff.Decision.REJECT, "Too much.")
    busy.refresh_from_db()
    for budget in ("400.00", "300.00", "200.00"):
        services.row_update(org=org_a, actor=people["requester"], row=busy,
                            monthly_budget=budget)
    PolicyRow.objects.filter(pk=busy.pk).update(status=S.IN_REVIEW)
    busy.refresh_from_db()
    sign(org_a, busy, people, R.APP_OWNER)
    for n in range(3):
        attach(org_a, busy, people["owner"], f"Evidence {n}")
    login(client, cast["security"])
    page(client, quiet)
    for row in (quiet, busy):
        with django_assert_num_queries(ROW_PAGE_QUERIES):
            response = page(client, row)
    assert len(response.context["timeline"]) >= 11


# session, user, membership + org (+ unread count), the org switcher; rows in review
# (joined), their live signatures, the reviewer's grants on them.
INBOX_QUERIES = 7


@pytest.mark.parametrize("waiting", [10, 500])
def test_inbox_queries_do_not_grow_with_rows(client, cast, make_row, waiting,
                                             django_assert_num_queries):
    clone_rows(make_row(S.IN_REVIEW), waiting - 1, status=S.IN_REVIEW)
    login(client, cast["security"])
    client.get(inbox_url())
    with django_assert_num_queries(INBOX_QUERIES):
        response = client.get(inbox_url())
    assert len(response.context["entries"]) == waiting


def test_a_row_bound_to_a_rotated_key_shows_its_lineage(client, cast, org_a, people,
                                                        production, caller_a, make_row,
                                                        django_assert_num_queries):
    from projects.keys import key_create, key_rotate

    key, _ = key_create(org=org_a, actor=people["owner"], project=production.project,
                        environment=production, caller=caller_a, name="support")
    row = make_row(S.ACTIVE, api_key=key)
    login(client, cast["security"])
    assert 'id="key-lineage"' not in page(client, row).content.decode()
    successor, _ = key_rotate(org=org_a, actor=people["owner"], key=key, overlap_seconds=3600)
    key.refresh_from_db()
    page(client, row)  # warm the session
    # One query more than an unbound row's page: the newest key of the lineage.
    with django_assert_num_queries(ROW_PAGE_QUERIES + 1):
        response = page(client, row)
    body = response.content.decode()
    lineage = body[body.index('id="key-lineage"'):].split("</div>")[0]
    assert f"Bound to key <span class=\"app-mono\">{key.prefix}…</span>" in lineage
    assert f"{successor.prefix}…" in lineage
    until = timezone.localtime(key.expires_at).strftime("%-d %b %Y %H:%M")
    assert f"both valid until {until}" in lineage
