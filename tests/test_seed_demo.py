"""The demo data of the zero-setup run: complete, idempotent, with a verifiable audit chain."""

import pytest
from django.core.management import call_command

from approvals.models import Finding
from evidence.models import CatalogSnapshot, UsageRecord
from orgs.models import Membership, Organization
from projects.models import ApiKey, Caller, Project

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_the_demo_org_once(capsys, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # the usage reconciliation
        call_command("seed_demo")
    out = capsys.readouterr().out
    org = Organization.objects.get(slug="acme")
    assert "owner@acme.example" in out and "governance-demo" in out
    roles = set(Membership.objects.for_org(org).values_list("role", flat=True))
    assert roles == {"owner", "admin", "security", "finance", "member", "auditor"}
    assert Project.objects.for_org(org).count() == 2
    assert Caller.objects.for_org(org).count() == 4
    assert ApiKey.objects.for_org(org).count() == 2
    assert CatalogSnapshot.objects.for_org(org).count() == 2
    # The demo usage raises one finding of each usage rule, and feeds the active row.
    kinds = set(Finding.objects.for_org(org).values_list("kind", flat=True))
    assert {Finding.Kind.MODEL_OUT_OF_SCOPE, Finding.Kind.WRONG_ENVIRONMENT,
            Finding.Kind.UNOWNED_CALLS, Finding.Kind.USAGE_WITHOUT_ROW,
            Finding.Kind.BILLING_MISMATCH} <= kinds, kinds
    assert UsageRecord.objects.for_org(org).count() == 6

    call_command("seed_demo")
    assert "nothing changed" in capsys.readouterr().out
    assert Project.objects.for_org(org).count() == 2
    call_command("verify_audit_chain", org="acme")
