"""Serializers of the rows API. Related objects appear by public id; models as catalog
entry ids plus platform/model_id; signatures with whether (and why) they were voided.

Write serializers check shapes and resolve ids within the request's org (another org's
id is "not found"); the services (approvals/services/) decide what a row may say.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from approvals.forms import resolve_models
from approvals.models import Action, DataClass, DenyRule, PolicyRow, SignOff
from approvals.workflow import Status
from orgs.models import Membership
from projects.key_serializers import OrgObjectField
from projects.models import ApiKey, Caller, Environment, Project, WorkloadIdentity

OWNERS = ("app_owner", "engineering_owner", "finance_owner", "evidence_owner",
          "cutoff_owner")


def _public_id(source, *, null=True, **kwargs):
    """The related object's public id; `null`: the foreign key is nullable, so the schema
    says the id may be null."""
    return serializers.UUIDField(source=f"{source}.public_id", read_only=True,
                                 default=None, allow_null=null, **kwargs)


class ModelRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True,
                               help_text="The catalog entry's public id.")
    platform = serializers.CharField(read_only=True)
    model_id = serializers.CharField(read_only=True)
    key = serializers.CharField(read_only=True, help_text="platform/model_id as the "
                                                          "catalog source names it.")
    snapshot = serializers.UUIDField(source="snapshot.public_id", read_only=True)


class SignOffSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    signer = serializers.CharField(source="signer_label", read_only=True)
    voided = serializers.SerializerMethodField()

    class Meta:
        model = SignOff
        fields = ["id", "role", "decision", "signer", "comment", "row_version",
                  "content_hash", "signed_at", "voided", "voided_at", "void_reason"]
        read_only_fields = fields

    def get_voided(self, signoff) -> bool:
        return signoff.voided_at is not None


class RowSerializer(serializers.ModelSerializer):
    """A policy row as the API shows it (read only)."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    project = _public_id("project", null=False)
    environment = _public_id("environment", null=False)
    environment_name = serializers.CharField(source="environment.name", read_only=True)
    caller = _public_id("caller", null=False)
    caller_name = serializers.CharField(source="caller.name", read_only=True)
    api_key = _public_id("api_key")
    workload_identity = _public_id("workload_identity")
    approved_models = ModelRefSerializer(many=True, read_only=True)
    app_owner = _public_id("app_owner", help_text="A membership's public id.")
    engineering_owner = _public_id("engineering_owner")
    finance_owner = _public_id("finance_owner")
    evidence_owner = _public_id("evidence_owner")
    cutoff_owner = _public_id("cutoff_owner")
    fallback_row = _public_id("fallback_row")
    requested_by = _public_id("requested_by")
    signoffs = SignOffSerializer(many=True, read_only=True)

    class Meta:
        model = PolicyRow
        fields = ["id", "status", "version", "project", "environment", "environment_name",
                  "caller", "caller_name", "api_key", "workload_identity", "approved_models",
                  "allowed_actions", "data_classes", "business_reason", "daily_cap",
                  "monthly_budget", "rate_limit_per_minute", "alert_thresholds",
                  "cutoff_behaviour", *OWNERS, "fallback_row", "renewal_date",
                  "renewal_triggers", "requested_by", "signoffs", "created_at",
                  "updated_at", "status_changed_at", "activated_at"]
        read_only_fields = fields


class RowWriteSerializer(serializers.Serializer):
    """The content of a row: POST needs it whole, PATCH any part of it. Numbers and lists
    are checked by the service (negative budgets, thresholds out of order, unknown
    actions), so its messages are the same as the form's."""

    project = OrgObjectField(Project)
    environment = OrgObjectField(Environment)
    caller = OrgObjectField(Caller)
    api_key = OrgObjectField(ApiKey, required=False, allow_null=True)
    workload_identity = OrgObjectField(WorkloadIdentity, required=False, allow_null=True)
    approved_models = serializers.ListField(
        child=serializers.CharField(), help_text="Catalog entry ids of the current catalog.")
    allowed_actions = serializers.ListField(child=serializers.CharField(), help_text=(
        f"Any of: {', '.join(Action.values)}."))
    data_classes = serializers.ListField(child=serializers.CharField(), help_text=(
        f"Any of: {', '.join(v for v in DataClass.values if v != DataClass.PROHIBITED)}."))
    business_reason = serializers.CharField()
    daily_cap = serializers.DecimalField(max_digits=12, decimal_places=2, required=False,
                                         allow_null=True)
    monthly_budget = serializers.DecimalField(max_digits=12, decimal_places=2)
    rate_limit_per_minute = serializers.IntegerField(required=False, allow_null=True)
    alert_thresholds = serializers.ListField(child=serializers.IntegerField(),
                                             required=False)
    cutoff_behaviour = serializers.ChoiceField(choices=PolicyRow.Cutoff.choices,
                                               required=False)
    app_owner = OrgObjectField(Membership)
    engineering_owner = OrgObjectField(Membership)
    finance_owner = OrgObjectField(Membership)
    evidence_owner = OrgObjectField(Membership)
    cutoff_owner = OrgObjectField(Membership)
    fallback_row = OrgObjectField(PolicyRow, required=False, allow_null=True)
    renewal_date = serializers.DateField(required=False, allow_null=True)
    renewal_triggers = serializers.ListField(child=serializers.CharField(), required=False)

    def validate_approved_models(self, ids):
        try:
            return resolve_models(org=self.context["org"], ids=ids)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None


class RowFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    project = OrgObjectField(Project, required=False)
    environment = OrgObjectField(Environment, required=False)


class MoveSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, help_text=(
        "Required to request changes or reject: the requester needs to know why."))
    reason = serializers.CharField(required=False, allow_blank=True, help_text=(
        "Required to suspend or revoke."))


class SignOffCreateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=SignOff.Role.choices)
    decision = serializers.ChoiceField(choices=SignOff.Decision.choices)
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class RowSummarySerializer(serializers.ModelSerializer):
    """A row in a list of work (the inbox): only what signoff_inbox loads in its joins."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    project = _public_id("project", null=False)
    environment = _public_id("environment", null=False)
    environment_name = serializers.CharField(source="environment.name", read_only=True)
    caller = _public_id("caller", null=False)
    caller_name = serializers.CharField(source="caller.name", read_only=True)
    app_owner = _public_id("app_owner")
    requested_by = _public_id("requested_by")

    class Meta:
        model = PolicyRow
        fields = ["id", "status", "version", "project", "environment", "environment_name",
                  "caller", "caller_name", "business_reason", "monthly_budget", "app_owner",
                  "requested_by", "status_changed_at"]
        read_only_fields = fields


class InboxItemSerializer(serializers.Serializer):
    row = RowSummarySerializer(read_only=True)
    roles = serializers.ListField(child=serializers.ChoiceField(
        choices=SignOff.Role.choices), read_only=True, help_text="Roles you may sign now.")
    waiting_since = serializers.DateTimeField(read_only=True)


class DenyRuleSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    project = _public_id("project")
    environment = _public_id("environment")
    owner = _public_id("owner")
    owner_email = serializers.SerializerMethodField()

    class Meta:
        model = DenyRule
        fields = ["id", "platform", "model_id", "action", "data_class", "project",
                  "environment", "reason", "owner", "owner_email", "active", "created_at",
                  "deactivated_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.EmailField(allow_null=True))
    def get_owner_email(self, rule):
        return rule.owner.user.email if rule.owner else None


class DenyRuleCreatedSerializer(DenyRuleSerializer):
    """The answer to a create: the rule, plus plain warnings (e.g. it names nothing in the
    org's current catalog). A warning never stops the create."""

    warnings = serializers.ListField(child=serializers.CharField(), read_only=True,
                                     default=list)

    class Meta(DenyRuleSerializer.Meta):
        fields = [*DenyRuleSerializer.Meta.fields, "warnings"]
        read_only_fields = fields


class DenyRuleCreateSerializer(serializers.Serializer):
    platform = serializers.CharField(
        required=False, allow_blank=True, max_length=64,
        help_text="Any case; alone, it denies every model of that platform.")
    model_id = serializers.CharField(
        required=False, allow_blank=True, max_length=300,
        help_text="Bare (gpt-4o) or qualified (azure/gpt-4o); any case.")
    action = serializers.ChoiceField(choices=Action.choices, required=False,
                                     allow_blank=True)
    data_class = serializers.ChoiceField(choices=DataClass.choices, required=False,
                                         allow_blank=True)
    project = OrgObjectField(Project, required=False, allow_null=True)
    environment = OrgObjectField(Environment, required=False, allow_null=True)
    reason = serializers.CharField(allow_blank=True)
    owner = OrgObjectField(Membership)


class DenyRuleFilterSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=["active", "inactive", "all"], required=False,
                                    default="active")


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True)
