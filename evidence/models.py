"""Catalog facts: dated snapshots of a model catalog, their entries, and import jobs.

Snapshots belong to one org (not shared across orgs): a catalog is evidence an org
collected at a time, from a source it chose, and the policy rows that cite it are the
org's own; sharing would leak which catalogs and prices an org tracks. The same file
imported by two orgs is stored twice, which costs little (about 4,500 rows).

Snapshots and their entries are immutable once imported: save() on an existing row and
queryset update()/delete() raise, so a diff or an evidence item that cites a snapshot
always sees what was imported.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from evidence.families import Family
from evidence.importers import Format
from evidence.importers.common import Availability, PriceUnit
from orgs.scoping import OrgScopedQuerySet


class ImmutableError(Exception):
    """Raised when code tries to change or delete an imported snapshot or entry."""


class ImmutableQuerySet(OrgScopedQuerySet):
    def update(self, **kwargs):
        raise ImmutableError("Catalog snapshots are immutable once imported")

    def delete(self):
        raise ImmutableError("Catalog snapshots are immutable once imported")

    _raw_delete = delete


class Immutable(models.Model):
    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableError("Catalog snapshots are immutable once imported")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableError("Catalog snapshots are immutable once imported")


class CatalogSnapshot(Immutable):
    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT,
                            related_name="catalog_snapshots")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    source_name = models.CharField(max_length=100,
                                   help_text="Diffs compare snapshots of the same source.")
    format = models.CharField(max_length=16, choices=Format.CHOICES)
    source_ref = models.CharField(max_length=500, help_text="URL or file name.")
    sha256 = models.CharField(max_length=64)
    snapshot_date = models.DateField(help_text="The catalog's own date; availability is "
                                     "judged against it.")
    imported_at = models.DateTimeField(default=timezone.now)
    # No database constraint: the snapshot outlives users, and the label keeps who it was.
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.DO_NOTHING, db_constraint=False,
                                    related_name="+")
    imported_by_label = models.CharField(max_length=254, blank=True)
    entry_count = models.PositiveIntegerField(default=0)
    skipped = models.JSONField(default=dict, blank=True, help_text="{reason: count}")
    counts = models.JSONField(default=dict, blank=True,
                              help_text="{'family': {...}, 'platform': {...}}")

    objects = ImmutableQuerySet.as_manager()

    class Meta:
        ordering = ["-snapshot_date", "-imported_at"]
        constraints = [models.UniqueConstraint(fields=["org", "sha256"],
                                               name="catalog_snapshot_org_sha256")]
        indexes = [models.Index(fields=["org", "source_name", "snapshot_date"])]

    def __str__(self):
        return f"{self.source_name} {self.snapshot_date:%Y-%m-%d}"

    @property
    def skipped_count(self) -> int:
        return sum(self.skipped.values())


class CatalogEntry(Immutable):
    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    snapshot = models.ForeignKey(CatalogSnapshot, on_delete=models.PROTECT,
                                 related_name="entries")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    key = models.CharField(max_length=300, help_text="The source's own id; diffs join on it.")
    platform = models.CharField(max_length=64, help_text="The serving platform or API.")
    vendor = models.CharField(max_length=64, blank=True, help_text="The model's creator.")
    model_id = models.CharField(max_length=300)
    region = models.CharField(max_length=64, blank=True, help_text="Region or offer.")
    family = models.CharField(max_length=32, choices=Family.choices,
                              help_text="The main endpoint family.")
    # Every family, as "|chat_completions|responses|": a portable contains-filter.
    families = models.CharField(max_length=300)
    mode = models.CharField(max_length=32, blank=True, help_text="The source's own label.")
    input_price = models.DecimalField(max_digits=24, decimal_places=12, null=True, blank=True,
                                      help_text="USD per 1M input tokens.")
    output_price = models.DecimalField(max_digits=24, decimal_places=12, null=True,
                                       blank=True, help_text="USD per 1M output tokens.")
    unit_price = models.DecimalField(max_digits=24, decimal_places=12, null=True, blank=True,
                                     help_text="USD per price unit.")
    price_unit = models.CharField(max_length=16, choices=PriceUnit.CHOICES, blank=True)
    context_window = models.PositiveIntegerField(null=True, blank=True)
    max_output_tokens = models.PositiveIntegerField(null=True, blank=True)
    deprecation_date = models.DateField(null=True, blank=True)
    availability = models.CharField(max_length=24, choices=Availability.CHOICES)
    extra = models.JSONField(default=dict, blank=True)

    objects = ImmutableQuerySet.as_manager()

    class Meta:
        ordering = ["platform", "model_id", "region"]
        constraints = [models.UniqueConstraint(fields=["snapshot", "key"],
                                               name="catalog_entry_snapshot_key")]
        indexes = [
            models.Index(fields=["org", "snapshot", "platform", "model_id"]),
            models.Index(fields=["org", "snapshot", "family"]),
            models.Index(fields=["org", "platform", "model_id"]),
        ]

    def __str__(self):
        return self.key

    @property
    def family_list(self) -> list[str]:
        return [f for f in self.families.split("|") if f]


class ImportJob(models.Model):
    """One requested import (browser upload, URL or API), run by a Celery task."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Imported"
        FAILED = "failed", "Failed"
        # A scheduled refresh that fetched the file already imported (same SHA-256).
        UNCHANGED = "unchanged", "Unchanged"

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    format = models.CharField(max_length=16, choices=Format.CHOICES)
    source_name = models.CharField(max_length=100)
    source_ref = models.CharField(max_length=500, help_text="URL or file name.")
    url = models.URLField(max_length=500, blank=True)
    # The uploaded bytes until the task has run; the database is the one store that the
    # web process and every worker machine share. Cleared when the job finishes.
    payload = models.BinaryField(null=True, blank=True, editable=False)
    snapshot_date = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey("orgs.Membership", null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    phase = models.CharField(max_length=64, blank=True)
    progress = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True)
    snapshot = models.ForeignKey(CatalogSnapshot, null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.source_ref} ({self.status})"

    @property
    def is_done(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED,
                               self.Status.UNCHANGED)

    @property
    def percent(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        return int(100 * self.progress / self.total) if self.total else 0


class CatalogRefresh(models.Model):
    """An org's scheduled catalog refresh (issue #8): the URL the daily job fetches and
    imports as the system (evidence/refresh.py), and how its last run ended. No row, or an
    empty URL, means no refresh. Catalog configuration, so it lives with the catalog."""

    class Outcome(models.TextChoices):
        IMPORTED = "imported", "Imported a new snapshot"
        UNCHANGED = "unchanged", "Unchanged (same file as before)"
        FAILED = "failed", "Failed"

    org = models.OneToOneField("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    url = models.URLField(max_length=500, blank=True)
    format = models.CharField(max_length=16, choices=Format.CHOICES, default=Format.LITELLM)
    source_name = models.CharField(max_length=100, blank=True)
    # Claimed by a run (conditional update): a second beat tick or worker within the
    # claim window does nothing.
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_job = models.ForeignKey(ImportJob, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    # Set when admins were told of a failure; cleared by the next run that works, so a
    # run of failures notifies once.
    failure_notified_at = models.DateTimeField(null=True, blank=True)
    updated_by = models.ForeignKey("orgs.Membership", null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    objects = OrgScopedQuerySet.as_manager()

    def __str__(self):
        return f"Catalog refresh of {self.org_id}: {self.url or 'off'}"


def evidence_upload_to(item, filename: str) -> str:
    # Files live under the org and the item's own id: no user-chosen path, no clash.
    suffix = "".join(c for c in filename.rsplit(".", 1)[-1][:10] if c.isalnum()) \
        if "." in filename else "bin"
    return f"evidence/{item.org_id}/{item.public_id}.{suffix or 'bin'}"


class EvidenceItem(models.Model):
    """One typed artifact that proves part of an approval: a file (hashed), a URL, or
    structured content (a smoke-test result, a catalog row). Evidence is a fact: it knows
    nothing of policy rows; approvals.RowEvidence links items to the rows they close.

    review_status starts pending; a reviewer accepts or rejects it. An item past valid_until
    is expired whatever its review (see is_expired)."""

    class Kind(models.TextChoices):
        CATALOG_ROW = "catalog_row", "Catalog row"
        SMOKE_TEST = "smoke_test", "Route smoke test"
        USAGE_ROW = "usage_row", "Usage row"
        BILLING_ROW = "billing_row", "Billing row"
        AUDIT_EXTRACT = "audit_extract", "Audit log extract"
        ROLLBACK_TEST = "rollback_test", "Rollback test"
        DPA_SCOPE = "dpa_scope", "DPA or contract scope"
        RETENTION = "retention", "Retention setting"
        LOGGING_SCOPE = "logging_scope", "Logging scope"
        REDACTION_RULE = "redaction_rule", "Redaction rule"
        SECURITY_REVIEW = "security_review", "Security review note"
        QUOTA_EXPORT = "quota_export", "Quota export"

    class Review(models.TextChoices):
        PENDING = "pending", "Pending review"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=24, choices=Kind.choices)
    title = models.CharField(max_length=200)
    # For a smoke test: the action it exercised (evidence.families.Action), so the
    # checklist can ask for one passed test per allowed action.
    action = models.CharField(max_length=32, blank=True)
    file = models.FileField(upload_to=evidence_upload_to, blank=True, max_length=300)
    file_name = models.CharField(max_length=255, blank=True)
    file_size = models.PositiveBigIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    url = models.URLField(max_length=500, blank=True)
    content = models.JSONField(default=dict, blank=True)
    # SHA-256 of the file's bytes, or of the canonical JSON of `content` (and the URL).
    sha256 = models.CharField(max_length=64)
    collector = models.ForeignKey("orgs.Membership", null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+")
    # Who collected it, kept when the member leaves; "system" for automatic collection.
    collector_label = models.CharField(max_length=254)
    collected_at = models.DateTimeField(default=timezone.now)
    valid_until = models.DateField(null=True, blank=True)
    review_status = models.CharField(max_length=16, choices=Review.choices,
                                     default=Review.PENDING)
    reviewed_by = models.ForeignKey("orgs.Membership", null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_comment = models.TextField(blank=True)
    # Revisions: a new upload of the same artifact points at the item it replaces.
    supersedes = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="superseded_by")
    created_at = models.DateTimeField(default=timezone.now)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-collected_at"]
        indexes = [models.Index(fields=["org", "kind"]),
                   models.Index(fields=["org", "valid_until"])]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.title}"

    def is_expired(self, today=None) -> bool:
        today = today or timezone.localdate()
        return self.valid_until is not None and self.valid_until < today


class UsageSource(models.TextChoices):
    """Where usage or billing lines came from; a line's source_id is unique per source."""

    OPENAI = "openai", "OpenAI usage export"
    ANTHROPIC = "anthropic", "Anthropic usage and cost report"
    LITELLM = "litellm", "LiteLLM spend logs"
    API = "api", "Pushed over the API"


class UsageImport(models.Model):
    """One usage or billing import (browser upload or API batch), run by a Celery task
    with progress, like the catalog's ImportJob. A bad file writes nothing: the report
    names each bad line."""

    class Kind(models.TextChoices):
        USAGE = "usage", "Usage"
        BILLING = "billing", "Billing lines"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Imported"
        FAILED = "failed", "Failed"

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.USAGE)
    source = models.CharField(max_length=16, choices=UsageSource.choices)
    source_ref = models.CharField(max_length=500, help_text="File name, or 'api'.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    # The uploaded bytes until the task has run (shared by web and workers); then cleared.
    payload = models.BinaryField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey("orgs.Membership", null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # What the worker is doing (checking, writing, done, failed); while checking, progress
    # and total count bytes of the file, then lines.
    phase = models.CharField(max_length=64, blank=True)
    progress = models.PositiveBigIntegerField(default=0)
    total = models.PositiveBigIntegerField(default=0)
    # {"added": n, "duplicates": n, "errors": [{"line": 3, "field": "cost", "message": ..}]}
    report = models.JSONField(default=dict, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.get_kind_display()} from {self.source_ref} ({self.status})"

    @property
    def is_done(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)

    @property
    def percent(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        return int(100 * self.progress / self.total) if self.total else 0


class UsageRecord(models.Model):
    """One line of gateway or provider usage, as the source reported it (the *_ref
    fields), with what it resolved to in this org (api_key, project, environment; null
    when it named nothing known). A fact: which policy row it belongs to is approvals'
    business (reconciliation), not this model's."""

    # Bulk imports write up to millions of lines (bench/usage_import.py), so the table keeps
    # only the indexes its reads use and checks one foreign key in the database: org. The
    # others are resolved by the import from the org's own rows in the same transaction,
    # and Django's collector still nulls them when a key, project, environment, caller or
    # job is deleted (none is, in practice: keys are revoked, the rest is PROTECTed).
    # Per-row deferred FK triggers and six extra indexes tripled the import's time.
    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+",
                            db_index=False)  # the unique constraint leads with org
    source = models.CharField(max_length=16, choices=UsageSource.choices)
    # The source's own id of the line (request id, bucket+model, spend log id): re-importing
    # the same file adds nothing.
    source_id = models.CharField(max_length=200)
    import_job = models.ForeignKey(UsageImport, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+",
                                   db_constraint=False, db_index=False)
    occurred_at = models.DateTimeField()
    model = models.CharField(max_length=300, help_text="As the source names it.")
    provider = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=32, blank=True)
    api_key_ref = models.CharField(max_length=200, blank=True)
    project_ref = models.CharField(max_length=200, blank=True)
    environment_ref = models.CharField(max_length=64, blank=True)
    caller_ref = models.CharField(max_length=200, blank=True)
    api_key = models.ForeignKey("projects.ApiKey", null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+",
                                db_constraint=False, db_index=False)
    project = models.ForeignKey("projects.Project", null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+",
                                db_constraint=False, db_index=False)
    environment = models.ForeignKey("projects.Environment", null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+",
                                    db_constraint=False, db_index=False)
    caller = models.ForeignKey("projects.Caller", null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+",
                               db_constraint=False, db_index=False)
    requests = models.PositiveIntegerField(default=1)
    input_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    imported_at = models.DateTimeField(default=timezone.now)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at"]
        constraints = [models.UniqueConstraint(fields=["org", "source", "source_id"],
                                               name="usagerecord_once_per_source_id")]
        indexes = [models.Index(fields=["org", "occurred_at"]),
                   models.Index(fields=["org", "project", "occurred_at"]),
                   models.Index(fields=["import_job"])]

    def __str__(self):
        return f"{self.model} at {self.occurred_at:%Y-%m-%d %H:%M}: {self.cost_usd} USD"


class BillingLine(models.Model):
    """One line of a provider invoice or cost report: what the org was billed for a
    period, to set against the gateway's usage (reconciliation)."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=16, choices=UsageSource.choices)
    source_id = models.CharField(max_length=200)
    import_job = models.ForeignKey(UsageImport, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    period_start = models.DateField()
    period_end = models.DateField()
    provider = models.CharField(max_length=64, blank=True)
    model = models.CharField(max_length=300, blank=True)
    project_ref = models.CharField(max_length=200, blank=True)
    project = models.ForeignKey("projects.Project", null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+")
    description = models.CharField(max_length=300, blank=True)
    amount_usd = models.DecimalField(max_digits=14, decimal_places=6)
    imported_at = models.DateTimeField(default=timezone.now)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-period_start"]
        constraints = [
            models.UniqueConstraint(fields=["org", "source", "source_id"],
                                    name="billingline_once_per_source_id"),
            models.CheckConstraint(condition=models.Q(period_end__gte=models.F("period_start")),
                                   name="billingline_period_in_order"),
        ]
        indexes = [models.Index(fields=["org", "period_start"])]

    def __str__(self):
        return f"{self.provider} {self.model} {self.period_start}: {self.amount_usd} USD"


class GatewayConfig(models.Model):
    """The org's OpenAI-compatible gateway that route smoke tests call (evidence/gateway.py
    writes it; approvals/services/smoke.py uses it). A fact source, not row policy.

    The test key is stored encrypted (orgs/crypto.py) and never shown again: pages say only
    when it was set and by whom. No save() logic: gateway_config_update checks the URL
    (SSRF rule) and the bounds."""

    DEFAULT_TIMEOUT = 20

    org = models.OneToOneField("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    base_url = models.URLField(max_length=500, help_text="OpenAI-compatible base URL, e.g. "
                               "https://gateway.example/v1.")
    key_encrypted = models.TextField()
    timeout_seconds = models.PositiveSmallIntegerField(default=DEFAULT_TIMEOUT)
    key_set_at = models.DateTimeField(default=timezone.now)
    key_set_by = models.ForeignKey("orgs.Membership", null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey("orgs.Membership", null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    objects = OrgScopedQuerySet.as_manager()

    def __str__(self):
        return f"Gateway {self.base_url}"
