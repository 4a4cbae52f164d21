"""Small factories for usage imports, usage lines and billing lines (the importers of #7
build them from files; the reconciliation tests only need the rows)."""

import itertools
from datetime import UTC, datetime
from decimal import Decimal

from evidence.models import BillingLine, UsageImport, UsageRecord

_seq = itertools.count(1)


def make_import(org, *, kind=UsageImport.Kind.USAGE, source="litellm"):
    return UsageImport.objects.create(org=org, kind=kind, source=source,
                                      source_ref="spend.csv",
                                      status=UsageImport.Status.SUCCEEDED)


def make_record(job, *, cost="1.00", at=None, model="gpt-chat", provider="openai", **fields):
    """One usage line of job; pass api_key, project, environment, caller as resolved."""
    return UsageRecord.objects.create(
        org=job.org, source=job.source, source_id=f"line-{next(_seq)}", import_job=job,
        occurred_at=at or datetime(2026, 12, 1, 10, tzinfo=UTC), model=model,
        provider=provider, cost_usd=Decimal(cost), **fields)


def make_billing(job, *, amount, start, end, provider="openai", project=None):
    return BillingLine.objects.create(
        org=job.org, source=job.source, source_id=f"bill-{next(_seq)}", import_job=job,
        period_start=start, period_end=end, provider=provider, project=project,
        amount_usd=Decimal(amount))
