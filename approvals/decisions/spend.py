"""spend_add: the one write to spend counters (the usage import of #7 calls it)."""

from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from approvals.decisions.engine import period_keys
from approvals.decisions.models import SpendCounter
from approvals.decisions.versions import decisions_changed


@transaction.atomic
def spend_add(*, org, row, amount, at=None) -> None:
    """Add `amount` USD spent by `row` at `at` (default now) to its day and month counters,
    and make every worker's next decision see it."""
    if row.org_id != org.pk:
        raise ValueError("This row belongs to another organization.")
    amount = Decimal(amount)
    if amount < 0:
        raise ValueError("Spend cannot be negative.")
    day, month = period_keys(at or timezone.now())
    for period, key in ((SpendCounter.Period.DAY, day), (SpendCounter.Period.MONTH, month)):
        counter, created = SpendCounter.objects.for_org(org).get_or_create(
            row=row, period_key=key, defaults={"org": org, "period": period,
                                               "amount": amount})
        if not created:
            SpendCounter.objects.for_org(org).filter(pk=counter.pk).update(
                amount=F("amount") + amount, updated_at=timezone.now())
    decisions_changed(org)
