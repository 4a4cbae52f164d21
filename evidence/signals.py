"""Signals evidence/ sends so that approvals/ can act on new facts without evidence/
importing it (the layers run governance > approvals > evidence > projects > orgs)."""

from django.dispatch import Signal

# Sent inside catalog_import's transaction, after the snapshot and its entries are written;
# kwargs: org, snapshot, actor. Receivers (catalog-change findings and renewal triggers)
# commit with the snapshot or not at all.
catalog_imported = Signal()

# Sent after a usage or billing import has committed (from the task that ran it); kwargs:
# org, job (an evidence.models.UsageImport). Receivers reconcile the new lines, feed spend
# counters and check quota thresholds.
usage_imported = Signal()
