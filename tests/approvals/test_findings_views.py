"""Findings pages, actions and API: the list and its filters, one finding with what raised
it, acknowledge / resolve (a note required) / reassign for the owner, security and admins
only (403 for others), 404 across orgs, constant query counts; findings and spend on the
row page, the project fragment and the dashboard panel."""

import pytest
from django.urls import reverse

from approvals.findings import finding_raise
from approvals.models import Finding, PolicyRow
from orgs.audit import AuditEvent
from orgs.events import NotificationEvent
from tests.approvals.usage import make_import
from tests.conftest import login

pytestmark = pytest.mark.django_db
K = Finding.Kind


@pytest.fixture
def row(make_row):
    return make_row(PolicyRow.Status.ACTIVE)


@pytest.fixture
def finding(org_a, row):
    job = make_import(org_a)
    found, _ = finding_raise(org=org_a, kind=K.MODEL_OUT_OF_SCOPE, dedupe_key="k1",
                             title="support-api in production called gpt-big", row=row,
                             source=job, link=f"/o/acme/usage/imports/{job.public_id}/",
                             detail={"model": "gpt-big", "approved": ["gpt-chat"]})
    return found


def url(name, *args):
    return reverse(f"approvals:{name}", args=["acme", *args])


def api(name, *args):
    return reverse(f"api_{name}", args=["acme", *args])


def test_the_list_shows_unresolved_findings_and_filters(client, org_a, people, row, finding,
                                                        project_a):
    other, _ = finding_raise(org=org_a, kind=K.BILLING_MISMATCH, dedupe_key="b",
                             title="Billing mismatch of OpenAI", project=project_a)
    Finding.objects.filter(pk=other.pk).update(state=Finding.State.RESOLVED)
    login(client, people["auditor"])
    page = client.get(url("finding_list")).content.decode()
    assert "called gpt-big" in page and "Billing mismatch of OpenAI" not in page
    page = client.get(url("finding_list") + "?state=resolved").content.decode()
    assert "Billing mismatch of OpenAI" in page and "called gpt-big" not in page
    page = client.get(url("finding_list") + "?state=all&kind=billing_mismatch").content.decode()
    assert "Billing mismatch of OpenAI" in page and "called gpt-big" not in page
    page = client.get(url("finding_list") + f"?state=all&row={row.public_id}").content.decode()
    assert "called gpt-big" in page and "Billing mismatch of OpenAI" not in page
    page = client.get(url("finding_list") + f"?project={project_a.public_id}").content.decode()
    assert "called gpt-big" in page


def test_a_bad_filter_is_a_field_error(client, people):
    login(client, people["auditor"])
    response = client.get(url("finding_list") + "?kind=nonsense")
    assert response.status_code == 400 and "nonsense" in response.content.decode()


def test_a_foreign_row_in_the_filter_is_404(client, people, org_b, project_b, caller_b,
                                            outsider):
    login(client, people["auditor"])
    response = client.get(url("finding_list") + f"?row={project_b.public_id}")
    assert response.status_code == 404


def test_the_detail_names_what_raised_it(client, people, finding, row):
    login(client, people["auditor"])
    page = client.get(url("finding_detail", finding.public_id)).content.decode()
    assert finding.link in page and "usageimport" in page
    assert url("row_detail", row.public_id) in page
    assert "gpt-chat" in page and "Only" not in page
    assert "handle findings" in page  # an auditor may read, not act


def test_owner_acknowledges_then_resolves_with_a_note(client, org_a, people, finding):
    login(client, people["app_owner"])  # the row's app owner owns the finding
    response = client.post(url("finding_acknowledge", finding.public_id))
    assert response.status_code == 302
    finding.refresh_from_db()
    assert finding.state == Finding.State.ACKNOWLEDGED
    assert finding.acknowledged_by == people["app_owner"]
    response = client.post(url("finding_resolve", finding.public_id), {"note": " "})
    assert response.status_code == 400
    assert "Say what was done" in response.content.decode()
    finding.refresh_from_db()
    assert finding.state == Finding.State.ACKNOWLEDGED
    response = client.post(url("finding_resolve", finding.public_id),
                           {"note": "Added gpt-big to the row after review."})
    assert response.status_code == 302
    finding.refresh_from_db()
    assert finding.state == Finding.State.RESOLVED
    assert finding.resolution_note == "Added gpt-big to the row after review."
    actions = list(AuditEvent.objects.for_org(org_a).filter(
        action__startswith="approval.finding_").values_list("action", flat=True))
    assert sorted(actions) == ["approval.finding_acknowledged", "approval.finding_raised",
                               "approval.finding_resolved"]
    assert NotificationEvent.objects.filter(kind="finding.resolved").count() == 1
    # Resolved is final: acknowledging again is a conflict.
    assert client.post(url("finding_acknowledge", finding.public_id)).status_code == 409


@pytest.mark.parametrize("role, allowed", [
    ("security", True), ("admin", True), ("owner", True), ("app_owner", True),
    ("finance", False), ("requester", False), ("auditor", False),
])
def test_who_may_handle_a_finding(client, people, finding, role, allowed):
    login(client, people[role])
    response = client.post(url("finding_acknowledge", finding.public_id))
    assert response.status_code == (302 if allowed else 403)
    response = client.post(url("finding_resolve", finding.public_id), {"note": "x"})
    assert response.status_code == (302 if allowed else 403)


def test_reassigning_hands_the_finding_over(client, org_a, people, finding, outsider):
    login(client, people["security"])
    response = client.post(url("finding_assign", finding.public_id),
                           {"owner": people["finance"].public_id})
    assert response.status_code == 302
    finding.refresh_from_db()
    assert finding.owner == people["finance"]
    event = NotificationEvent.objects.get(kind="finding.assigned")
    assert event.payload["audience"] == [people["finance"].user_id]
    # A member of another org is not a choice.
    response = client.post(url("finding_assign", finding.public_id),
                           {"owner": outsider.public_id})
    assert response.status_code == 400 and "owner" in response.context["assign_form"].errors
    # The new owner may now act; the old one (no role of their own) may not.
    login(client, people["app_owner"])
    assert client.post(url("finding_acknowledge", finding.public_id)).status_code == 403


@pytest.mark.parametrize("n", [3, 60])
def test_the_list_queries_do_not_grow(client, org_a, people, row, project_a, n,
                                      django_assert_num_queries):
    for i in range(n):
        finding_raise(org=org_a, kind=K.USAGE_WITHOUT_ROW, dedupe_key=f"n{i}",
                      title=f"Finding {i}", row=row if i % 2 else None, project=project_a)
    login(client, people["security"])
    client.get(url("finding_list"))
    # session, user, membership (+ unread count), the org switcher; the project choices
    # of the filter; the page's count; the findings (joined with row, project, owner).
    with django_assert_num_queries(7):
        response = client.get(url("finding_list"))
    assert response.status_code == 200 and len(response.context["findings"]) == min(n, 50)


def test_the_row_page_shows_its_findings_and_spend_chart(client, people, row, finding):
    login(client, people["auditor"])
    page = client.get(url("row_detail", row.public_id)).content.decode()
    assert 'id="row-findings"' in page and "called gpt-big" in page
    assert "<svg" in page and "<title" in page and "Spend by day (table)" in page


def test_the_project_fragment_shows_findings_and_spend(client, people, project_a, finding):
    login(client, people["auditor"])
    project_page = client.get(reverse("projects:project_detail",
                                      args=["acme", project_a.public_id])).content.decode()
    assert url("project_monitor", project_a.public_id) in project_page
    fragment = client.get(url("project_monitor", project_a.public_id), HTTP_HX_REQUEST="true")
    html = fragment.content.decode()
    assert fragment.status_code == 200 and "<html" not in html
    assert "called gpt-big" in html and "<svg" in html and "500.00 USD" in html


def test_the_project_fragment_queries_are_constant(client, people, project_a, row,
                                                   django_assert_num_queries):
    login(client, people["auditor"])
    client.get(url("project_monitor", project_a.public_id), HTTP_HX_REQUEST="true")
    # session, user, membership (+ unread count); the project; its open findings; the
    # chart's counters and the budgets of its rows in force. 7, whatever the counters.
    with django_assert_num_queries(7):
        client.get(url("project_monitor", project_a.public_id), HTTP_HX_REQUEST="true")


def test_the_dashboard_panel_lists_open_findings(client, people, finding):
    def panel(who):
        login(client, people[who])
        return client.get(url("attention"), HTTP_HX_REQUEST="true").content.decode()

    assert "called gpt-big" in panel("app_owner")  # theirs
    assert "called gpt-big" in panel("security")  # security sees all
    assert "called gpt-big" not in panel("finance")  # neither theirs nor a watcher


def test_findings_nav_section(client, people):
    login(client, people["auditor"])
    page = client.get(url("finding_list")).content.decode()
    assert 'aria-current="page" href="/o/acme/findings/">Findings' in page


# --- API -------------------------------------------------------------------------------------

def test_api_lists_and_filters_findings(client, people, finding, row):
    login(client, people["auditor"])
    data = client.get(api("finding_list")).json()
    assert [f["id"] for f in data["results"]] == [str(finding.public_id)]
    assert data["results"][0]["row"] == str(row.public_id)
    assert client.get(api("finding_list") + "?state=resolved").json()["results"] == []
    assert client.get(api("finding_list") + "?kind=bad").status_code == 400


def test_api_actions(client, people, finding, outsider):
    login(client, people["security"])
    response = client.post(api("finding_acknowledge", finding.public_id))
    assert response.status_code == 200 and response.json()["state"] == "acknowledged"
    response = client.post(api("finding_resolve", finding.public_id), {"note": ""},
                           content_type="application/json")
    assert response.status_code == 400 and "note" in response.json()
    response = client.post(api("finding_assign", finding.public_id),
                           {"owner": str(outsider.public_id)}, content_type="application/json")
    assert response.status_code == 400 and "owner" in response.json()
    response = client.post(api("finding_assign", finding.public_id),
                           {"owner": str(people["admin"].public_id)},
                           content_type="application/json")
    assert response.json()["owner_email"] == people["admin"].user.email
    response = client.post(api("finding_resolve", finding.public_id), {"note": "Fixed"},
                           content_type="application/json")
    assert response.json()["state"] == "resolved"
    assert client.post(api("finding_acknowledge", finding.public_id)).status_code == 409


def test_api_refuses_who_may_not_and_hides_other_orgs(client, people, finding, outsider):
    login(client, people["finance"])
    assert client.post(api("finding_acknowledge", finding.public_id)).status_code == 403
    client.force_login(outsider.user)
    assert client.get(api("finding_list")).status_code == 404
    response = client.post(reverse("api_finding_acknowledge",
                                   args=["globex", finding.public_id]))
    assert response.status_code == 404


@pytest.mark.parametrize("n", [3, 60])
def test_api_list_queries_do_not_grow(client, org_a, people, project_a, n,
                                      django_assert_num_queries):
    for i in range(n):
        finding_raise(org=org_a, kind=K.USAGE_WITHOUT_ROW, dedupe_key=f"n{i}",
                      title=f"Finding {i}", project=project_a)
    login(client, people["security"])
    client.get(api("finding_list"))
    # session, user, membership (+ unread count); the page's count; the findings
    # (joined with row, project and owner).
    with django_assert_num_queries(5):
        client.get(api("finding_list"))
