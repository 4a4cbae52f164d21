"""The dashboard's "Waiting for you" panel (issue #8 item 5): each person sees what waits
for them by role, with a link to act, in a constant number of queries."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from approvals.decisions.spend import spend_add
from approvals.models import PolicyRow
from approvals.services.evidence import row_evidence_collect
from tests.approvals.conftest import clone_rows
from tests.conftest import login
from tests.projects.conftest import make_key

S = PolicyRow.Status


def panel(client, org="acme"):
    return client.get(reverse("approvals:attention", args=[org]), HTTP_HX_REQUEST="true")


def test_the_dashboard_loads_the_panel_with_htmx(client, people):
    body = login(client, people["requester"]).get(
        reverse("orgs:dashboard", args=["acme"])).content.decode()
    assert f'hx-get="{reverse("approvals:attention", args=["acme"])}"' in body


def test_a_reviewer_sees_the_sign_off_waiting_for_them(client, people, make_row):
    row = make_row(S.IN_REVIEW)
    body = panel(login(client, people["security"])).content.decode()
    assert "waits for your signature as security" in body
    assert reverse("approvals:row_detail", args=["acme", row.public_id]) in body


def test_an_owner_sees_their_row_renewing_soon_and_others_do_not(client, people, make_row):
    make_row(S.ACTIVE, renewal_date=timezone.localdate() + timedelta(days=10))
    mine = panel(login(client, people["requester"])).content.decode()
    assert "renews by" in mine
    client.logout()
    auditor = panel(login(client, people["auditor"])).content.decode()
    assert "renews by" not in auditor and "Nothing waits for you" in auditor


def test_finance_sees_budgets_past_80_percent(client, org_a, people, make_row):
    hot, cool = make_row(S.ACTIVE), make_row(S.ACTIVE)
    spend_add(org=org_a, row=hot, amount=Decimal("450"))  # 90 % of 500
    spend_add(org=org_a, row=cool, amount=Decimal("100"))  # 20 %
    login(client, people["finance"])
    attention = client.get(reverse("approvals:attention", args=["acme"])).context["attention"]
    assert [(c.row, c.percent) for c in attention.budgets] == [(hot, 90)]


def test_evidence_expiring_within_14_days_is_shown_to_platform(client, org_a, people,
                                                               make_row):
    row = make_row(S.ACTIVE)
    row_evidence_collect(org=org_a, actor=people["owner"], row=row, kind="usage_row",
                         title="October usage", content={"calls": 12},
                         valid_until=timezone.localdate() + timedelta(days=5))
    body = panel(login(client, people["admin"])).content.decode()
    assert "“October usage”" in body and "expires on" in body


def test_a_key_expiring_soon_is_shown_to_its_callers_owner(client, org_a, owner, project_a,
                                                           caller_a):
    env = project_a.environments.get(tier="development")
    key, _ = make_key(org_a, owner, env, caller_a, name="dev key", expires_in_days=3)
    body = panel(login(client, owner)).content.decode()
    assert "dev key" in body and "rotate it" in body


def test_outsider_gets_404(client, outsider):
    assert panel(login(client, outsider)).status_code == 404


def test_without_htmx_the_panel_is_a_page(client, people):
    response = login(client, people["requester"]).get(
        reverse("approvals:attention", args=["acme"]))
    assert response.status_code == 200
    assert "<h1" in response.content.decode()


@pytest.mark.parametrize("extra", [3, 60])
def test_panel_queries_do_not_grow(client, org_a, people, make_row, extra,
                                   django_assert_num_queries):
    row = make_row(S.ACTIVE, renewal_date=timezone.localdate() + timedelta(days=10))
    for clone in clone_rows(row, extra):
        spend_add(org=org_a, row=clone, amount=Decimal("480"))
    login(client, people["finance"])
    panel(client)
    # session, user, membership (+ unread count); the rows in review (none here: their
    # signatures and grants are then not asked for); renewals; budgets; evidence; keys;
    # open findings (one more, for the findings list of issue #7).
    with django_assert_num_queries(9):
        assert panel(client).status_code == 200
