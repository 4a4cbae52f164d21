"""Spend counters: what one row spent in one day or one calendar month (UTC), in USD.
The usage import (#7) feeds them through spend_add(); the decision engine denies a row
whose cutoff is "block" once a counter reaches its cap."""

from decimal import Decimal

from django.db import models
from django.utils import timezone

from orgs.scoping import OrgScopedQuerySet


class SpendCounter(models.Model):
    class Period(models.TextChoices):
        DAY = "day", "Day"
        MONTH = "month", "Month"

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    row = models.ForeignKey("approvals.PolicyRow", on_delete=models.PROTECT,
                            related_name="spend_counters")
    period = models.CharField(max_length=8, choices=Period.choices)
    # "2026-11-22" for a day, "2026-11" for a month (UTC).
    period_key = models.CharField(max_length=10)
    amount = models.DecimalField(max_digits=14, decimal_places=4, default=Decimal(0))
    updated_at = models.DateTimeField(default=timezone.now)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        app_label = "approvals"
        constraints = [
            models.UniqueConstraint(fields=["row", "period_key"],
                                    name="spendcounter_row_period_key"),
            models.CheckConstraint(condition=models.Q(amount__gte=0),
                                   name="spendcounter_amount_not_negative"),
        ]
        indexes = [models.Index(fields=["org", "period_key"])]

    def __str__(self):
        return f"{self.period_key}: {self.amount} USD"
