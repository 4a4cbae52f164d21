"""The renewal review page: who reads it and who acts on it, cross-org 404s, bad input."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from approvals.decisions.spend import spend_add
from approvals.models import PolicyRow, RenewalReview
from approvals.services import renewal_review_start
from tests.approvals.conftest import propose_renewal
from tests.conftest import ROLES, login

S = PolicyRow.Status


def _url(row, slug="acme", step=""):
    name = f"approvals:renewal_{step}" if step else "approvals:renewal_review"
    return reverse(name, args=[slug, row.public_id])


@pytest.fixture
def due(make_row):
    return make_row(S.RENEWAL_DUE)


def _answers(**overrides):
    data = {"comment": "",
            "proposed_renewal_date": (timezone.localdate() + timedelta(days=60)).isoformat()}
    for area in RenewalReview.Area.values:
        data.update({f"{area}_ok": "ok", f"{area}_note": "", f"{area}_evidence": ""})
    data.update(overrides)
    return data


@pytest.mark.parametrize("role", ROLES)
def test_every_member_reads_the_checklist_with_usage(role, client, personas, org_a, due):
    spend_add(org=org_a, row=due, amount="125.00")
    login(client, personas[role])
    response = client.get(_url(due))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Is the input data still limited to the approved class?" in body
    assert "125.00 of 500.00 USD (25 %)" in body


@pytest.mark.parametrize(("persona", "status"), [
    ("security", 302), ("admin", 302), ("owner", 302),
    ("requester", 403), ("finance", 403), ("auditor", 403), ("app_owner", 403),
])
def test_who_may_start_a_renewal_review(persona, status, client, people, due):
    login(client, people[persona])
    response = client.post(_url(due, step="start"), {})
    assert response.status_code == status
    assert RenewalReview.objects.filter(row=due).exists() == (status == 302)


def test_reviewer_sees_the_answer_form_and_others_only_read(client, people, org_a, due):
    renewal_review_start(org=org_a, actor=people["security"], row=due)
    login(client, people["security"])
    assert f'action="{_url(due, step="answer")}"' in client.get(_url(due)).content.decode()
    login(client, people["finance"])
    body = client.get(_url(due)).content.decode()
    assert _url(due, step="answer") not in body and "Not answered yet" in body


def test_outsider_gets_404(client, outsider, due):
    login(client, outsider)
    assert client.get(_url(due)).status_code == 404
    assert client.post(_url(due, step="start"), {}).status_code == 404
    assert client.get(_url(due, slug="globex")).status_code == 404


def test_answers_and_renew_through_the_page(client, people, org_a, due):
    renewal_review_start(org=org_a, actor=people["security"], row=due)
    login(client, people["security"])
    assert client.post(_url(due, step="answer"), _answers()).status_code == 302
    response = client.post(_url(due, step="decide"), {"outcome": "renew"})
    assert response.status_code == 302
    due.refresh_from_db()
    assert (due.status, due.version) == (S.RENEWAL_DUE, 2)
    assert due.renewal_date == timezone.localdate() + timedelta(days=60)
    assert "waiting for the sign-offs" in client.get(_url(due)).content.decode()


def test_not_ok_without_a_note_is_a_field_error_and_saves_nothing(client, people, org_a, due):
    review = renewal_review_start(org=org_a, actor=people["security"], row=due)
    login(client, people["security"])
    response = client.post(_url(due, step="answer"), _answers(data_scope_ok="not_ok",
                                               proposed_renewal_date="2001-01-01"))
    assert response.status_code == 400
    body = response.content.decode()
    assert "Say what is wrong with the data scope" in body
    assert "The renewal date must be in the future." in body
    review.refresh_from_db()
    assert review.answers == {}


def test_renew_with_an_area_not_ok_is_refused_on_the_page(client, people, org_a, due):
    review = renewal_review_start(org=org_a, actor=people["security"], row=due)
    login(client, people["security"])
    client.post(_url(due, step="answer"),
                _answers(fallback_ok="not_ok", fallback_note="Fallback changed."))
    response = client.post(_url(due, step="decide"), {"outcome": "renew"})
    assert response.status_code == 400
    assert "Fallback must be answered ok to renew" in response.content.decode()
    review.refresh_from_db()
    assert review.outcome == ""


def test_rework_needs_a_comment(client, people, org_a, due):
    renewal_review_start(org=org_a, actor=people["admin"], row=due)
    login(client, people["admin"])
    response = client.post(_url(due, step="decide"), {"outcome": "rework", "comment": ""})
    assert response.status_code == 400 and "Say why" in response.content.decode()
    response = client.post(_url(due, step="decide"), {"outcome": "rework",
                                       "comment": "Data scope grew."})
    assert response.status_code == 302
    assert PolicyRow.objects.get(pk=due.pk).status == S.CHANGES_REQUESTED


def test_htmx_bad_input_gets_the_review_panel_only(client, people, org_a, due):
    renewal_review_start(org=org_a, actor=people["security"], row=due)
    login(client, people["security"])
    response = client.post(_url(due, step="decide"), {"outcome": "bogus"},
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="review">') and "<html" not in body


def test_acting_without_an_open_review_or_on_a_row_not_due_is_a_conflict(
        client, people, org_a, make_row, due):
    login(client, people["security"])
    assert client.post(_url(due, step="answer"), _answers()).status_code == 409
    active = make_row(S.ACTIVE)
    response = client.post(_url(active, step="start"), {})
    assert response.status_code == 409 and "Cannot renew" in response.content.decode()


def test_starting_twice_is_a_plain_error(client, people, org_a, due):
    renewal_review_start(org=org_a, actor=people["security"], row=due)
    login(client, people["admin"])
    response = client.post(_url(due, step="start"), {})
    assert response.status_code == 400 and "already open" in response.content.decode()


def test_a_decided_renewal_shows_who_signed(client, people, org_a, due):
    propose_renewal(org_a, due, people)
    login(client, people["auditor"])
    body = client.get(_url(due)).content.decode()
    assert "No signatures yet." in body


@pytest.mark.parametrize("count", [1, 6])
def test_page_query_count_is_constant(count, client, people, org_a, due,
                                      django_assert_num_queries):
    from approvals.models import RowEvidence
    from evidence.models import EvidenceItem

    for n in range(count):
        item = EvidenceItem.objects.create(org=org_a, kind="usage_row", title=f"Usage {n}",
                                           sha256="c" * 64, collector_label="system")
        RowEvidence.objects.create(org=org_a, row=due, item=item)
    renewal_review_start(org=org_a, actor=people["security"], row=due)
    login(client, people["security"])
    client.get(_url(due))  # warm the session and the template caches
    # session, user, membership (org resolve), row, its models, its sign-offs, open
    # review, evidence links with items, usage counters, all reviews, one more membership
    # read by the page chrome: 11 whatever the evidence count.
    with django_assert_num_queries(11):
        assert client.get(_url(due)).status_code == 200
