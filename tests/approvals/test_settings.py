"""The org's approval settings: the service, the page, and the maximum renewal days
enforced where rows are created and linted."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from approvals.lint import lint_row
from approvals.models import MAX_RENEWAL_DAYS, ApprovalSettings
from approvals.selectors import approval_settings_get
from approvals.services import approval_settings_update, row_create
from tests.approvals.conftest import Counts, row_fields
from tests.conftest import ROLES, login

URL = "/o/acme/settings/approvals/"
GOOD = {"max_renewal_days": "60", "reminder_days": "7, 30, 14", "expiry_grace_days": "2",
        "decision_log": "sampled", "decision_log_sample_percent": "25",
        "catalog_price_tolerance_percent": "10",
        "catalog_renewal_changes": ["removed", "deprecation", "family"]}


def test_an_org_without_settings_gets_the_product_defaults(org_a):
    settings = approval_settings_get(org=org_a)
    assert settings.pk is None
    assert (settings.max_renewal_days, settings.reminder_days, settings.expiry_grace_days) == (
        MAX_RENEWAL_DAYS, [30, 14, 7, 1], 0)


def test_admin_updates_the_settings_once_audited(org_a, personas):
    before = Counts(org_a)
    saved = approval_settings_update(org=org_a, actor=personas["admin"], max_renewal_days=60,
                                     reminder_days=[7, 30])
    assert (saved.max_renewal_days, saved.reminder_days) == (60, [30, 7])
    [audit], [event] = before.new_audit(), before.new_events()
    assert (audit.action, event.kind) == ("approval.settings_updated",
                                          "approval.settings_updated")
    assert audit.changes["max_renewal_days"] == [90, 60]
    again = Counts(org_a)
    approval_settings_update(org=org_a, actor=personas["owner"], max_renewal_days=60)
    assert again.new_audit() == [] and again.new_events() == []
    assert ApprovalSettings.objects.filter(org=org_a).count() == 1


@pytest.mark.parametrize("role", ["member", "security", "finance", "auditor"])
def test_only_admins_and_owners_change_settings(role, org_a, personas):
    with pytest.raises(PermissionDenied):
        approval_settings_update(org=org_a, actor=personas[role], max_renewal_days=30)
    assert approval_settings_get(org=org_a).pk is None


def test_outsider_cannot_change_another_orgs_settings(org_a, outsider):
    with pytest.raises(PermissionDenied):
        approval_settings_update(org=org_a, actor=outsider, max_renewal_days=30)


@pytest.mark.parametrize(("fields", "field"), [
    ({"max_renewal_days": 0}, "max_renewal_days"),
    ({"max_renewal_days": 400}, "max_renewal_days"),
    ({"reminder_days": [14, 14]}, "reminder_days"),
    ({"reminder_days": [0]}, "reminder_days"),
    ({"reminder_days": "30"}, "reminder_days"),
    ({"max_renewal_days": 20, "reminder_days": [30]}, "reminder_days"),
    ({"expiry_grace_days": -1}, "expiry_grace_days"),
    ({"decision_log": "everything"}, "decision_log"),
    ({"decision_log_sample_percent": 101}, "decision_log_sample_percent"),
    ({"decision_log": "sampled", "decision_log_sample_percent": 0},
     "decision_log_sample_percent"),
])
def test_bad_settings_are_field_errors_and_save_nothing(fields, field, org_a, personas):
    with pytest.raises(ValidationError) as exc:
        approval_settings_update(org=org_a, actor=personas["admin"], **fields)
    assert field in exc.value.message_dict
    assert approval_settings_get(org=org_a).pk is None


def test_max_renewal_days_is_enforced_on_row_create(org_a, personas, people, project_a,
                                                    production, caller_a, chat_model):
    approval_settings_update(org=org_a, actor=personas["admin"], max_renewal_days=30,
                             reminder_days=[14, 7])
    fields = row_fields(project=project_a, environment=production, caller=caller_a,
                        people=people)  # renewal in 60 days
    with pytest.raises(ValidationError) as exc:
        row_create(org=org_a, actor=people["requester"], approved_models=[chat_model], **fields)
    assert "within 30 days" in exc.value.message_dict["renewal_date"][0]
    fields["renewal_date"] = timezone.localdate() + timedelta(days=30)
    assert row_create(org=org_a, actor=people["requester"], approved_models=[chat_model],
                      **fields).pk


def test_the_linter_uses_the_orgs_maximum(org_a, personas, make_row):
    row = make_row()  # renewal in 60 days, fine under the default 90
    assert "production-renewal-too-far" not in {f.rule for f in lint_row(org=org_a, row=row)}
    approval_settings_update(org=org_a, actor=personas["admin"], max_renewal_days=30,
                             reminder_days=[7])
    [finding] = [f for f in lint_row(org=org_a, row=row)
                 if f.rule == "production-renewal-too-far"]
    assert "more than 30 days away" in finding.message


@pytest.mark.parametrize("role", ROLES)
def test_every_member_reads_the_settings_page(role, client, personas):
    login(client, personas[role])
    response = client.get(URL)
    assert response.status_code == 200
    editable = 'name="max_renewal_days"' in response.content.decode()
    assert editable == (role in ("owner", "admin"))
    assert "30, 14, 7, 1" in response.content.decode()


@pytest.mark.parametrize(("role", "status"), [("owner", 302), ("admin", 302),
                                              ("security", 403), ("member", 403),
                                              ("finance", 403), ("auditor", 403)])
def test_who_may_save_the_settings_page(role, status, client, personas, org_a):
    login(client, personas[role])
    assert client.post(URL, GOOD).status_code == status
    saved = approval_settings_get(org=org_a)
    assert (saved.pk is not None) == (status == 302)
    if saved.pk:
        assert (saved.max_renewal_days, saved.reminder_days, saved.expiry_grace_days,
                saved.decision_log_sample_percent) == (60, [30, 14, 7], 2, 25)


def test_bad_input_on_the_page_is_field_errors(client, personas, org_a):
    login(client, personas["admin"])
    response = client.post(URL, {**GOOD, "reminder_days": "soon", "max_renewal_days": "0"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Give whole numbers of days separated by commas" in body
    response = client.post(URL, {**GOOD, "max_renewal_days": "0"})
    assert response.status_code == 400 and "from 1 to 366" in response.content.decode()
    assert approval_settings_get(org=org_a).pk is None


def test_outsider_gets_404(client, outsider):
    login(client, outsider)
    assert client.get(URL).status_code == 404
    assert client.post(URL, GOOD).status_code == 404


def test_org_settings_link_to_the_approval_settings(client, personas):
    login(client, personas["member"])
    body = client.get(reverse("orgs:org_settings", args=["acme"])).content.decode()
    assert URL in body
