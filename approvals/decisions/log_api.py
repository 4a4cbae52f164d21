"""GET /api/v1/o/<org_slug>/decisions/log/: the org's recorded decisions, newest first,
paginated like every list (page, page_size). For audit readers (audit:read), as the page."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers

from approvals.decisions.engine import MESSAGES
from approvals.decisions.selectors import decision_record_list, decision_records_with_callers
from approvals.models import DecisionRecord
from orgs.api_base import OrgScopedAPIView


class DecisionLogFilterSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["allow", "deny"], required=False)
    reason = serializers.ChoiceField(choices=list(MESSAGES), required=False)
    model = serializers.CharField(required=False, allow_blank=True, max_length=300,
                                  help_text="Part of the model id.")
    row = serializers.UUIDField(required=False, help_text="The row's public id.")
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False, help_text="Exclusive.")

    def filters(self) -> dict:
        data = dict(self.validated_data)
        decision = data.pop("decision", None)
        return {**data, "allowed": None if decision is None else decision == "allow"}


class DecisionRecordSerializer(serializers.ModelSerializer):
    decision = serializers.SerializerMethodField()
    row = serializers.UUIDField(source="row_public_id", allow_null=True)
    rule = serializers.UUIDField(source="rule_public_id", allow_null=True)
    credential = serializers.UUIDField(source="credential_public_id", allow_null=True,
                                       help_text="The API key's or workload identity's id.")
    project = serializers.SerializerMethodField()
    caller = serializers.SerializerMethodField()

    class Meta:
        model = DecisionRecord
        fields = ["decided_at", "decision", "reasons", "row", "rule", "model", "action",
                  "data_class", "environment", "credential_kind", "credential", "project",
                  "caller", "sampled"]

    def get_decision(self, record) -> str:
        return "allow" if record.allowed else "deny"

    def get_project(self, record) -> str | None:
        return str(record.caller.project.public_id) if record.caller else None

    def get_caller(self, record) -> str | None:
        return str(record.caller.public_id) if record.caller else None


class DecisionLogList(mixins.ListModelMixin, OrgScopedAPIView):
    """Recorded decisions (sampled or every one, per the org's approval settings).
    Filters: decision (allow/deny), reason, model, row, since, until."""

    scopes = {"GET": "audit:read"}
    serializer_class = DecisionRecordSerializer

    def get_queryset(self):
        params = DecisionLogFilterSerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        return decision_record_list(org=self.request.org, **params.filters())

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        return decision_records_with_callers(org=self.request.org, records=page)

    @extend_schema(parameters=[DecisionLogFilterSerializer])
    def get(self, request, org_slug):
        return self.list(request)
