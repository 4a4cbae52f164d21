"""The approval matrix (#6): policy rows, their sign-offs, reviewer grants and org deny rules.

Models hold fields, constraints and pure helpers only; every write goes through
approvals/services/ (one service per verb, audited in the same transaction). The workflow
states and their transition table live in approvals/workflow.py, next to the services.
"""

import hashlib
import json
import uuid
from decimal import Decimal

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from approvals.workflow import Status
from evidence.families import Action as _EvidenceAction
from orgs.scoping import OrgScopedQuerySet

# One list of actions for the whole product: the catalog's family -> actions table
# (evidence/families.py) decides what a model can serve, so a row may only approve actions
# that table knows. PRODUCT.md's "deployment" is not one of them yet, so it is not offered.
Action = _EvidenceAction

# The longest a production row may go between renewals. Issue #6's settings page may make
# this a per-org setting; until then every org gets the product default.
MAX_RENEWAL_DAYS = 90
DEFAULT_ALERT_THRESHOLDS = (50, 80, 100)
# Reconciliation: usage may differ from billing lines by this much (percent) unflagged.
DEFAULT_BILLING_TOLERANCE_PERCENT = Decimal("5.00")


DEFAULT_REMINDER_DAYS = (30, 14, 7, 1)


def default_alert_thresholds():
    return list(DEFAULT_ALERT_THRESHOLDS)


def default_reminder_days():
    return list(DEFAULT_REMINDER_DAYS)


class CatalogTrigger(models.TextChoices):
    """The kinds of catalog change under an approved model that raise a finding on its rows
    (approvals/catalog_triggers.py); ApprovalSettings.catalog_renewal_changes picks the
    ones that also move an active row to renewal due."""

    REMOVED = "removed", "Model removed from the catalog"
    DEPRECATION = "deprecation", "Deprecation date scheduled or changed"
    PRICE = "price", "Input or output price changed beyond the tolerance"
    FAMILY = "family", "Endpoint family changed"


# A removed or retiring model, or one that now serves other endpoints, invalidates what
# was approved; a price change is finance's to look at, not a new approval.
DEFAULT_CATALOG_RENEWAL_CHANGES = (CatalogTrigger.REMOVED, CatalogTrigger.DEPRECATION,
                                   CatalogTrigger.FAMILY)
DEFAULT_CATALOG_PRICE_TOLERANCE = 10


def default_catalog_renewal_changes():
    return [str(c) for c in DEFAULT_CATALOG_RENEWAL_CHANGES]


class DataClass(models.TextChoices):
    PUBLIC = "public", "Public"
    INTERNAL = "internal", "Internal"
    CUSTOMER_SUPPORT_TEXT = "customer_support_text", "Customer support text"
    CUSTOMER_PII = "customer_pii", "Customer PII"
    REGULATED_RECORDS = "regulated_records", "Regulated records"
    SECRETS = "secrets", "Secrets"
    SOURCE_CODE = "source_code", "Source code"
    IMAGES = "images", "Images"
    AUDIO = "audio", "Audio"
    VIDEO = "video", "Video"
    # A label for deny rules and findings; no row may ever approve it.
    PROHIBITED = "prohibited", "Prohibited"


class RenewalTrigger(models.TextChoices):
    MODEL_CHANGE = "model_change", "Model version change or retirement"
    PROVIDER_TERMS = "provider_terms", "Provider policy or terms change"
    CATALOG_CHANGE = "catalog_change", "Catalog change (removed, renamed, price, route)"
    NEW_MODALITY = "new_modality", "New modality or action"
    DATA_SCOPE = "data_scope", "New input source or data class"
    INCIDENT = "incident", "Incident"
    SPEND_SPIKE = "spend_spike", "Spend spike"
    OWNER_CHANGE = "owner_change", "Owner or team change"
    QUARTERLY_REVIEW = "quarterly_review", "Quarterly review"


class PolicyRow(models.Model):
    """One row of the approval matrix: who may call which models, how, with what data."""

    class Cutoff(models.TextChoices):
        BLOCK = "block", "Block calls at 100 %"
        ALERT_ONLY = "alert_only", "Alert only"

    Status = Status

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    project = models.ForeignKey("projects.Project", on_delete=models.PROTECT, related_name="+")
    environment = models.ForeignKey("projects.Environment", on_delete=models.PROTECT,
                                    related_name="+")
    caller = models.ForeignKey("projects.Caller", on_delete=models.PROTECT, related_name="+")
    api_key = models.ForeignKey("projects.ApiKey", null=True, blank=True,
                                on_delete=models.PROTECT, related_name="+")
    workload_identity = models.ForeignKey("projects.WorkloadIdentity", null=True, blank=True,
                                          on_delete=models.PROTECT, related_name="+")
    approved_models = models.ManyToManyField(
        "evidence.CatalogEntry", related_name="+",
        help_text="Explicit catalog entries; never 'all of a provider'.")
    # Lists of Action / DataClass values, validated by the services. JSON rather than a
    # Postgres array: the zero-setup first run is on SQLite.
    allowed_actions = models.JSONField(default=list)
    data_classes = models.JSONField(default=list)
    business_reason = models.TextField()
    daily_cap = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True,
                                    help_text="USD per day.")
    monthly_budget = models.DecimalField(max_digits=12, decimal_places=2,
                                         help_text="USD per calendar month.")
    rate_limit_per_minute = models.PositiveIntegerField(null=True, blank=True)
    alert_thresholds = models.JSONField(default=default_alert_thresholds, help_text="Percent "
                                        "of the monthly budget, e.g. 50, 80, 100.")
    cutoff_behaviour = models.CharField(max_length=16, choices=Cutoff.choices,
                                        default=Cutoff.BLOCK)
    # Owners are required by the services; SET_NULL only so that a finished (revoked,
    # expired) row never blocks a member's removal. Live rows do: see services/rows.py.
    cutoff_owner = models.ForeignKey("orgs.Membership", null=True, on_delete=models.SET_NULL,
                                     related_name="+")
    app_owner = models.ForeignKey("orgs.Membership", null=True, on_delete=models.SET_NULL,
                                  related_name="+")
    engineering_owner = models.ForeignKey("orgs.Membership", null=True,
                                          on_delete=models.SET_NULL, related_name="+")
    finance_owner = models.ForeignKey("orgs.Membership", null=True, on_delete=models.SET_NULL,
                                      related_name="+")
    evidence_owner = models.ForeignKey("orgs.Membership", null=True, on_delete=models.SET_NULL,
                                       related_name="+")
    fallback_row = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="fallback_for")
    renewal_date = models.DateField(null=True, blank=True)
    renewal_triggers = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.DRAFT)
    # Where a suspended row returns to (active or renewal_due) when resumed.
    suspended_from = models.CharField(max_length=24, choices=Status.choices, blank=True)
    version = models.PositiveIntegerField(default=1)
    requested_by = models.ForeignKey("orgs.Membership", null=True, on_delete=models.SET_NULL,
                                     related_name="+")
    # The screen step's findings: {"snapshot": ..., "models": [...]} (services/workflow.py).
    screening = models.JSONField(default=dict, blank=True)
    screened_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    status_changed_at = models.DateTimeField(default=timezone.now)
    activated_at = models.DateTimeField(null=True, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(api_key__isnull=False, workload_identity__isnull=False),
                name="policyrow_one_credential"),
            models.CheckConstraint(condition=models.Q(version__gte=1),
                                   name="policyrow_version_positive"),
        ]
        indexes = [
            models.Index(fields=["org", "status"]),
            models.Index(fields=["org", "environment", "caller"]),
            models.Index(fields=["org", "renewal_date"]),
        ]
        permissions = [
            ("sign_security_policyrow", "Sign this row as the security reviewer"),
            ("sign_finance_policyrow", "Sign this row as the finance reviewer"),
            ("sign_app_owner_policyrow", "Sign this row as the app owner"),
        ]

    def __str__(self):
        return f"{self.caller.name} in {self.environment.name} (v{self.version})"

    # The fields a signature covers, in the order they appear in the hashed JSON. Status,
    # version, timestamps and screening results are not content: they change without the
    # approved scope changing.
    SIGNED_FIELDS = (
        "project", "environment", "caller", "api_key", "workload_identity", "approved_models",
        "allowed_actions", "data_classes", "business_reason", "daily_cap", "monthly_budget",
        "rate_limit_per_minute", "alert_thresholds", "cutoff_behaviour", "cutoff_owner",
        "app_owner", "engineering_owner", "finance_owner", "evidence_owner", "fallback_row",
        "renewal_date", "renewal_triggers",
    )

    def signed_content(self) -> dict:
        """The canonical content a signature covers: related objects by public id, lists
        sorted, decimals and dates as strings."""
        content = {}
        for name in self.SIGNED_FIELDS:
            if name == "approved_models":
                value = sorted(str(e.public_id) for e in self.approved_models.all())
            elif isinstance(self._meta.get_field(name), models.ForeignKey):
                related = getattr(self, name)
                value = str(related.public_id) if related is not None else None
            else:
                field, value = self._meta.get_field(name), getattr(self, name)
                if name in ("allowed_actions", "data_classes", "renewal_triggers"):
                    value = sorted(value)
                elif isinstance(field, models.DecimalField) and value is not None:
                    # "40" and "40.00" are the same cap; the database returns the latter.
                    value = f"{Decimal(value):.{field.decimal_places}f}"
                elif value is not None and not isinstance(value, (int, list, str)):
                    value = str(value)
            content[name] = value
        return content

    def content_hash(self) -> str:
        body = json.dumps(self.signed_content(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(body.encode()).hexdigest()

    @property
    def credential(self):
        return self.api_key or self.workload_identity

    @property
    def is_production(self) -> bool:
        return self.environment.tier == "production"


class PolicyRowUserObjectPermission(UserObjectPermissionBase):
    """Guardian's direct foreign key table for one-off grants on a row (a named reviewer)."""

    content_object = models.ForeignKey(PolicyRow, on_delete=models.CASCADE)


class PolicyRowGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(PolicyRow, on_delete=models.CASCADE)


class SignOff(models.Model):
    """One reviewer's decision on one version of a row. A signature is live while
    voided_at is empty; an edit of the row voids it and void_reason says why."""

    class Role(models.TextChoices):
        SECURITY = "security", "Security"
        FINANCE = "finance", "Finance"
        APP_OWNER = "app_owner", "App owner"

    class Decision(models.TextChoices):
        APPROVE = "approve", "Approve"
        REJECT = "reject", "Reject"

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    row = models.ForeignKey(PolicyRow, on_delete=models.PROTECT, related_name="signoffs")
    role = models.CharField(max_length=16, choices=Role.choices)
    signer = models.ForeignKey("orgs.Membership", null=True, on_delete=models.SET_NULL,
                               related_name="+")
    # Who signed, kept when the member later leaves the org.
    signer_label = models.CharField(max_length=254)
    decision = models.CharField(max_length=8, choices=Decision.choices)
    comment = models.TextField(blank=True)
    row_version = models.PositiveIntegerField()
    content_hash = models.CharField(max_length=64)
    signed_at = models.DateTimeField(default=timezone.now)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=500, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["signed_at"]
        constraints = [
            models.UniqueConstraint(fields=["row", "role"], condition=models.Q(
                voided_at__isnull=True), name="signoff_one_live_per_role"),
        ]
        indexes = [models.Index(fields=["org", "row", "voided_at"])]

    def __str__(self):
        return f"{self.get_role_display()} {self.decision} v{self.row_version}"


class DenyRule(models.Model):
    """An explicit org-level deny that beats any row. Empty fields match everything, so
    a rule names at least one of platform, model, action and data class, and may narrow
    to one project or environment. Platform and model are stored normalised
    (evidence/model_ids.py); a platform alone denies every model of that platform."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # A model identity, not a catalog entry: a deny outlives snapshots.
    platform = models.CharField(max_length=64, blank=True,
                                help_text="Empty: the model on every platform; alone: every "
                                          "model of the platform.")
    model_id = models.CharField(max_length=300, blank=True)
    action = models.CharField(max_length=32, choices=Action.choices, blank=True)
    data_class = models.CharField(max_length=32, choices=DataClass.choices, blank=True)
    project = models.ForeignKey("projects.Project", null=True, blank=True,
                                on_delete=models.PROTECT, related_name="+")
    environment = models.ForeignKey("projects.Environment", null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    owner = models.ForeignKey("orgs.Membership", null=True, on_delete=models.SET_NULL,
                              related_name="+")
    created_by = models.ForeignKey("orgs.Membership", null=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    active = models.BooleanField(default=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(platform="", model_id="", action="", data_class=""),
                name="denyrule_names_something"),
        ]
        indexes = [models.Index(fields=["org", "active"])]

    def __str__(self):
        model = "/".join(p for p in (self.platform, self.model_id) if p)
        if self.platform and not self.model_id:
            model += "/*"
        parts = [model, self.action, self.data_class]
        return "deny " + " / ".join(p for p in parts if p)

class RowEvidence(models.Model):
    """An evidence item attached to a row: the link between a fact (evidence/) and the
    approval it supports. One item may support several rows (one catalog row, two
    environments); removing the link never deletes the item."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    row = models.ForeignKey(PolicyRow, on_delete=models.PROTECT, related_name="evidence_links")
    item = models.ForeignKey("evidence.EvidenceItem", on_delete=models.PROTECT,
                             related_name="+")
    attached_by = models.ForeignKey("orgs.Membership", null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    attached_at = models.DateTimeField(default=timezone.now)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["attached_at"]
        constraints = [models.UniqueConstraint(fields=["row", "item"],
                                               name="rowevidence_once_per_row")]
        indexes = [models.Index(fields=["org", "row"])]

    def __str__(self):
        return f"{self.item_id} on {self.row_id}"


class RenewalReviewQuerySet(OrgScopedQuerySet):
    def awaiting_signatures(self):
        """Reviews decided "renew" whose row waits for the three signatures of its new
        version: until then the row holds only until its previous date (renews_from)."""
        return self.filter(decided_at__isnull=True, outcome=RenewalReview.Outcome.RENEW)


class RenewalReview(models.Model):
    """The renewal checklist of one row (the seed's "What To Review Before Renewal"): each
    area answered with a note and optional evidence, then an outcome. `answers` is
    {area: {"ok": bool, "note": str, "evidence": "<item public id>" | null}}."""

    class Area(models.TextChoices):
        MODEL_IDENTITY = "model_identity", "Model identity"
        DATA_SCOPE = "data_scope", "Data scope"
        USAGE_AND_COST = "usage_and_cost", "Usage and cost"
        FEATURE_BEHAVIOUR = "feature_behaviour", "Feature behaviour"
        FALLBACK = "fallback", "Fallback"

    class Outcome(models.TextChoices):
        RENEW = "renew", "Renew"
        REWORK = "rework", "Rework"
        REVOKE = "revoke", "Revoke"

    # The void reason of the signatures a proposed renewal replaces. Until the new version
    # is signed the row stays in force on them (the linter reads them back by this text).
    VOID_REASON = "voided: renewal review proposed a new renewal date"

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    row = models.ForeignKey(PolicyRow, on_delete=models.PROTECT, related_name="renewal_reviews")
    row_version = models.PositiveIntegerField()
    answers = models.JSONField(default=dict)
    outcome = models.CharField(max_length=8, choices=Outcome.choices, blank=True)
    proposed_renewal_date = models.DateField(null=True, blank=True)
    # The row's renewal date when renew was decided. Until the three sign-offs renew the
    # new version, the row holds only until this date (the sweep expires it after).
    renews_from = models.DateField(null=True, blank=True)
    comment = models.TextField(blank=True)
    created_by = models.ForeignKey("orgs.Membership", null=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey("orgs.Membership", null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    objects = RenewalReviewQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(
            fields=["row"], condition=models.Q(decided_at__isnull=True),
            name="renewalreview_one_open_per_row")]
        indexes = [models.Index(fields=["org", "row"])]

    def __str__(self):
        return f"Renewal review of {self.row_id} ({self.outcome or 'open'})"


class ApprovalSettings(models.Model):
    """Per-org settings of the approval matrix; a missing row means the product defaults
    (approvals.selectors.approval_settings_get returns an unsaved default)."""

    class DecisionLog(models.TextChoices):
        OFF = "off", "Off"
        SAMPLED = "sampled", "Sampled"
        FULL = "full", "Every decision"

    org = models.OneToOneField("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    max_renewal_days = models.PositiveIntegerField(
        default=MAX_RENEWAL_DAYS, help_text="The longest a production row may go between "
                                            "renewals.")
    reminder_days = models.JSONField(default=default_reminder_days, help_text=(
        "Days before a row's renewal date on which its owners are reminded."))
    expiry_grace_days = models.PositiveIntegerField(default=0, help_text=(
        "Days after the renewal date before an unrenewed row expires."))
    decision_log = models.CharField(max_length=8, choices=DecisionLog.choices,
                                    default=DecisionLog.SAMPLED)
    decision_log_sample_percent = models.PositiveIntegerField(default=10)
    catalog_price_tolerance_percent = models.PositiveIntegerField(
        default=DEFAULT_CATALOG_PRICE_TOLERANCE, help_text=(
            "A new catalog snapshot whose input or output price of an approved model moved "
            "by more than this percent raises a finding on its rows."))
    catalog_renewal_changes = models.JSONField(
        default=default_catalog_renewal_changes, blank=True, help_text=(
            "CatalogTrigger values: the catalog changes that move an active row to renewal "
            "due (every change raises a finding)."))
    billing_tolerance_percent = models.DecimalField(
        max_digits=5, decimal_places=2, default=DEFAULT_BILLING_TOLERANCE_PERCENT,
        help_text="How far gateway usage may differ from billing lines (per project, provider "
                  "and billing period) before reconciliation raises a finding.")
    # Required evidence per environment tier and data class (approvals/checklist.py
    # EvidenceRules.as_json); null: the seed's defaults (checklist.DEFAULT_RULES).
    evidence_rules = models.JSONField(null=True, blank=True, default=None)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        constraints = [models.CheckConstraint(
            condition=models.Q(decision_log_sample_percent__lte=100),
            name="approvalsettings_sample_percent")]

    def __str__(self):
        return f"Approval settings of {self.org_id}"


class DecisionRecord(models.Model):
    """One logged answer of the decision service (approvals/decisions/log.py writes these
    in buffered batches, off the hot path). Append-only; no foreign keys, so a burst of
    writes never locks rows that the matrix edits, and a record outlives its row."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+",
                            db_constraint=False)
    decided_at = models.DateTimeField()
    allowed = models.BooleanField()
    reasons = models.JSONField(default=list)
    row_public_id = models.UUIDField(null=True, blank=True)
    rule_public_id = models.UUIDField(null=True, blank=True)
    credential_kind = models.CharField(max_length=16, blank=True)
    credential_public_id = models.UUIDField(null=True, blank=True)
    project_id = models.BigIntegerField(null=True, blank=True)
    environment_id = models.BigIntegerField(null=True, blank=True)
    caller_id = models.BigIntegerField(null=True, blank=True)
    model = models.CharField(max_length=300)
    action = models.CharField(max_length=32)
    data_class = models.CharField(max_length=32)
    environment = models.CharField(max_length=64)
    sampled = models.BooleanField(default=False)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-decided_at"]
        indexes = [models.Index(fields=["org", "-decided_at"]),
                   models.Index(fields=["org", "row_public_id", "-decided_at"])]

    def __str__(self):
        return f"{'allow' if self.allowed else 'deny'} {self.model} {self.action}"


class Finding(models.Model):
    """Something the product noticed that a person must look at: usage no row covers, a
    catalog change under an approved model, spend past a threshold, expired evidence.
    Raised by approvals/findings.py (finding_raise), once per (org, kind, dedupe_key);
    a person acknowledges it, then resolves it with a note. `link` points at what raised
    it (a usage line, a snapshot diff, an evidence item)."""

    class Kind(models.TextChoices):
        USAGE_WITHOUT_ROW = "usage_without_row", "Usage with no active row"
        MODEL_OUT_OF_SCOPE = "model_out_of_scope", "Model outside the row's scope"
        WRONG_ENVIRONMENT = "wrong_environment", "Key used in the wrong environment"
        UNOWNED_CALLS = "unowned_calls", "Calls nobody owns"
        SPEND_THRESHOLD = "spend_threshold", "Spend crossed a threshold"
        BILLING_MISMATCH = "billing_mismatch", "Usage differs from billing"
        CATALOG_CHANGE = "catalog_change", "Catalog change under an approved model"
        EVIDENCE_EXPIRED = "evidence_expired", "Required evidence expired"
        SMOKE_TEST_FAILED = "smoke_test_failed", "Route smoke test failed"
        FORGED_EXCHANGE = "forged_exchange", "Forged workload token exchanges"

    class State(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    class Severity(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        CRITICAL = "critical", "Critical"

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    severity = models.CharField(max_length=8, choices=Severity.choices,
                                default=Severity.WARNING)
    state = models.CharField(max_length=16, choices=State.choices, default=State.OPEN)
    title = models.CharField(max_length=300)
    detail = models.JSONField(default=dict, blank=True)
    # What it is about: a row, else a project (usage no row covers); either may be null.
    row = models.ForeignKey(PolicyRow, null=True, blank=True, on_delete=models.PROTECT,
                            related_name="findings")
    project = models.ForeignKey("projects.Project", null=True, blank=True,
                                on_delete=models.PROTECT, related_name="+")
    # What raised it: model name and public id or pk (e.g. "catalogsnapshot", uuid), and a
    # path in this app to see it.
    source_type = models.CharField(max_length=64, blank=True)
    source_id = models.CharField(max_length=64, blank=True)
    link = models.CharField(max_length=500, blank=True)
    # Raising the same thing twice is one finding: kind + dedupe_key are unique per org
    # (e.g. "row:<uuid>:threshold:80:2026-11").
    dedupe_key = models.CharField(max_length=200)
    owner = models.ForeignKey("orgs.Membership", null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    raised_at = models.DateTimeField(default=timezone.now)
    acknowledged_by = models.ForeignKey("orgs.Membership", null=True, blank=True,
                                        on_delete=models.SET_NULL, related_name="+")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey("orgs.Membership", null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-raised_at"]
        constraints = [models.UniqueConstraint(fields=["org", "kind", "dedupe_key"],
                                               name="finding_once_per_dedupe_key")]
        indexes = [models.Index(fields=["org", "state", "-raised_at"]),
                   models.Index(fields=["org", "row", "state"]),
                   models.Index(fields=["org", "project", "state"])]

    def __str__(self):
        return self.title

    @property
    def is_open(self) -> bool:
        return self.state != self.State.RESOLVED


class UsageReconciliation(models.Model):
    """That one usage or billing import was reconciled (approvals/reconcile.py): created in
    the transaction that feeds its spend counters and raises its findings, and unique per
    import, so a second run (a redelivered task, two workers at once) adds nothing."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    import_job = models.OneToOneField("evidence.UsageImport", on_delete=models.PROTECT,
                                      related_name="+")
    reconciled_at = models.DateTimeField(default=timezone.now)
    # {"records": n, "matched": n, "spend_adds": n, "findings": n, "alerts": n}
    counts = models.JSONField(default=dict, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    def __str__(self):
        return f"Reconciliation of import {self.import_job_id}"
class DigestEmail(models.Model):
    """One member's weekly digest (approvals/digest.py): recorded once per (member, ISO
    week) with what it says, then sent by its own retried task, which claims it through
    sent_at (the outbox pattern of orgs/reminders.py, for an email that is no event)."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    member = models.ForeignKey("orgs.Membership", on_delete=models.CASCADE, related_name="+")
    week = models.CharField(max_length=8, help_text="ISO week, e.g. 2026-W49")
    content = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "member", "week"],
                                               name="digest_once_per_member_week")]

    def __str__(self):
        return f"Digest {self.week} for {self.member_id}"


class SmokeRun(models.Model):
    """One run of a row's route smoke tests (approvals/services/smoke.py): a synthetic
    request per (allowed action, model that serves it) of the row and of its fallback row,
    and a rollback test, sent by the Celery task approvals.smoke_run. `plan` is fixed when
    the run starts: [{"kind": "smoke_test"|"rollback_test", "action", "model", "entry",
    "fallback": bool}], and `notes` says what could not be tested and why."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"
        ERROR = "error", "Could not run"

    DONE = frozenset({Status.PASSED, Status.FAILED, Status.ERROR})

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    row = models.ForeignKey(PolicyRow, on_delete=models.PROTECT, related_name="smoke_runs")
    row_version = models.PositiveIntegerField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    plan = models.JSONField(default=list)
    notes = models.JSONField(default=list, blank=True)
    progress = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    passed_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)
    started_by = models.ForeignKey("orgs.Membership", null=True, on_delete=models.SET_NULL,
                                   related_name="+")
    started_by_label = models.CharField(max_length=254)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    # Written after every request: a run whose heartbeat is old lost its worker, and the
    # redelivered task may take it over (services/smoke.py STALE_AFTER).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(
            fields=["row"], condition=models.Q(status__in=["queued", "running"]),
            name="smokerun_one_active_per_row")]
        indexes = [models.Index(fields=["org", "row", "-created_at"])]

    def __str__(self):
        return f"Smoke run of {self.row_id} ({self.status})"

    @property
    def is_done(self) -> bool:
        return self.status in self.DONE

    @property
    def percent(self) -> int:
        if self.is_done:
            return 100
        return int(100 * self.progress / self.total) if self.total else 0


class SmokeResult(models.Model):
    """One request of a smoke run and what came back; `item` is the evidence it produced
    (a smoke_test or rollback_test item attached to the run's row). Request metadata only:
    method, URL and the synthetic body, never the key."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    run = models.ForeignKey(SmokeRun, on_delete=models.PROTECT, related_name="results")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=24)  # EvidenceItem.Kind: smoke_test or rollback_test
    action = models.CharField(max_length=32, choices=Action.choices)
    model = models.CharField(max_length=300)
    fallback = models.BooleanField(default=False)
    method = models.CharField(max_length=8)
    url = models.CharField(max_length=800)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    shape_ok = models.BooleanField(default=False)
    shape = models.CharField(max_length=200, blank=True)
    usage = models.JSONField(default=dict, blank=True)
    passed = models.BooleanField(default=False)
    error = models.CharField(max_length=500, blank=True)
    item = models.ForeignKey("evidence.EvidenceItem", null=True, blank=True,
                             on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["run", "position"]
        constraints = [models.UniqueConstraint(fields=["run", "position"],
                                               name="smokeresult_once_per_position")]

    def __str__(self):
        return f"{self.action} on {self.model}: {'passed' if self.passed else 'failed'}"

    @property
    def total_tokens(self):
        usage = self.usage or {}
        if "total_tokens" in usage:
            return usage["total_tokens"]
        parts = [usage.get(k) for k in ("prompt_tokens", "completion_tokens", "input_tokens",
                                         "output_tokens") if usage.get(k) is not None]
        return sum(parts) if parts else None


# The decision service's spend counters (approvals/decisions/): imported so the app
# registry finds them under this app.
from approvals.decisions.models import SpendCounter  # noqa: E402,F401

# Evidence packs (approvals/packs/): imported so the app registry finds them here too.
from approvals.packs.models import EvidencePack  # noqa: E402,F401
