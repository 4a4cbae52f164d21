"""Issue #13 §8: one source for each rule a form explains. Every hint that states a limit
reads the value its validator uses; each test renders under two values and checks that
the hint and the refusal follow together. (The request form's hint once said production
rows renew within 90 days while the validator applied the org's 60.)"""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from approvals import attention
from approvals.services import approval_settings_update
from evidence import catalog
from evidence.catalog import import_job_create
from evidence.forms import ImportForm
from evidence.usage import services as usage_services
from evidence.usage.forms import UsageUploadForm
from evidence.usage.services import usage_import_create
from tests.conftest import login


@pytest.mark.parametrize("max_days", [60, 45])
def test_request_form_renewal_hint_follows_the_org_setting(client, org_a, personas, make_row,
                                                           max_days):
    approval_settings_update(org=org_a, actor=personas["admin"], max_renewal_days=max_days)
    login(client, personas["member"])
    body = client.get(reverse("approvals:request_create", args=["acme"])).content.decode()
    assert f"Production rows renew within {max_days} days." in body
    # The validator refuses the first day past the same limit, with the same number.
    too_late = timezone.localdate() + timedelta(days=max_days + 1)
    with pytest.raises(ValidationError, match=f"Production rows renew within {max_days} days"):
        make_row(renewal_date=too_late)


@pytest.mark.parametrize("limit_mb", [64, 2])
def test_catalog_upload_hint_follows_the_import_limit(monkeypatch, org_a, personas, limit_mb):
    monkeypatch.setattr(catalog, "MAX_BYTES", limit_mb * 2**20)
    assert ImportForm().fields["file"].help_text == (
        f"A JSON or CSV file, up to {limit_mb} MB.")
    upload = SimpleUploadedFile("big.json", b"{}")
    upload.size = limit_mb * 2**20 + 1
    with pytest.raises(ValidationError, match=f"larger than {limit_mb} MB"):
        import_job_create(org=org_a, actor=personas["admin"], format="litellm",
                          upload=upload)


@pytest.mark.parametrize("limit_mb", [128, 3])
def test_usage_upload_hint_follows_the_import_limit(monkeypatch, org_a, personas, limit_mb):
    monkeypatch.setattr(usage_services, "MAX_UPLOAD_BYTES", limit_mb * 2**20)
    form = UsageUploadForm()
    assert form.fields["file"].help_text.startswith(f"JSON or CSV, up to {limit_mb} MB.")
    upload = SimpleUploadedFile("usage.csv", b"x")
    upload.size = limit_mb * 2**20 + 1
    with pytest.raises(ValidationError, match=f"larger than {limit_mb} MB"):
        usage_import_create(org=org_a, actor=personas["admin"], kind="usage", source="api",
                            upload=upload)


@pytest.mark.parametrize(("renewal", "expiry", "share"), [(30, 14, "0.8"), (45, 7, "0.9")])
def test_dashboard_empty_state_names_the_windows_it_applies(client, personas, monkeypatch,
                                                            renewal, expiry, share):
    from decimal import Decimal

    monkeypatch.setattr(attention, "RENEWAL_WINDOW", renewal)
    monkeypatch.setattr(attention, "EXPIRY_WINDOW", expiry)
    monkeypatch.setattr(attention, "BUDGET_SHARE", Decimal(share))
    login(client, personas["auditor"])
    body = client.get(reverse("approvals:attention", args=["acme"])).content.decode()
    assert (f"no renewals within {renewal} days, no budget past {int(Decimal(share) * 100)} "
            f"%, no evidence or key expiring within {expiry} days") in body
