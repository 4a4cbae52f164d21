"""API shapes of usage imports. The batch endpoints validate lines with the same code as
generic files (evidence.usage.parsers); the line serializers here document the shape."""

from rest_framework import serializers

from evidence.models import UsageImport, UsageRecord, UsageSource
from evidence.usage.services import MAX_BATCH_LINES


class UsageLineSerializer(serializers.Serializer):
    id = serializers.CharField(required=False, max_length=200, help_text=(
        "The line's own id (e.g. the gateway's request id); re-sending it adds nothing. "
        "Without one, a hash of the whole line is its id."))
    occurred_at = serializers.DateTimeField(help_text="RFC 3339 time, or Unix seconds.")
    model = serializers.CharField(max_length=300)
    provider = serializers.CharField(required=False, max_length=64)
    action = serializers.CharField(required=False, max_length=32,
                                   help_text="chat, chat_stream, responses, embeddings, ...")
    api_key = serializers.CharField(required=False, max_length=200, help_text=(
        "The team key's public id or visible prefix (a full secret is cut to its prefix)."))
    project = serializers.CharField(required=False, max_length=200,
                                    help_text="Project public id, slug or name.")
    environment = serializers.CharField(required=False, max_length=64)
    caller = serializers.CharField(required=False, max_length=200)
    requests = serializers.IntegerField(required=False, min_value=0, default=1)
    input_tokens = serializers.IntegerField(required=False, min_value=0, default=0)
    output_tokens = serializers.IntegerField(required=False, min_value=0, default=0)
    cost_usd = serializers.DecimalField(required=False, max_digits=14, decimal_places=6,
                                        help_text="Without it, the newest catalog snapshot's "
                                        "price for the model is used.")


class UsageBatchSerializer(serializers.Serializer):
    lines = UsageLineSerializer(many=True, max_length=MAX_BATCH_LINES)


class BillingLineInSerializer(serializers.Serializer):
    id = serializers.CharField(required=False, max_length=200)
    period_start = serializers.DateField()
    period_end = serializers.DateField(required=False, help_text="Inclusive; default the "
                                       "start.")
    provider = serializers.CharField(required=False, max_length=64)
    model = serializers.CharField(required=False, max_length=300)
    project = serializers.CharField(required=False, max_length=200)
    description = serializers.CharField(required=False, max_length=300)
    amount_usd = serializers.DecimalField(max_digits=14, decimal_places=6)


class BillingBatchSerializer(serializers.Serializer):
    lines = BillingLineInSerializer(many=True, max_length=MAX_BATCH_LINES)


class UsageImportSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = UsageImport
        fields = ["id", "kind", "source", "source_ref", "status", "phase", "progress",
                  "total", "percent", "report", "created_at", "started_at", "finished_at"]


class BatchResultSerializer(serializers.Serializer):
    import_id = serializers.UUIDField(source="public_id")
    lines = serializers.IntegerField(source="report.lines")
    added = serializers.IntegerField(source="report.added")
    duplicates = serializers.IntegerField(source="report.duplicates")


class UsageImportRequestSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=UsageImport.Kind.choices)
    source = serializers.ChoiceField(choices=UsageSource.choices)
    file = serializers.FileField()


class UsageRecordSerializer(serializers.ModelSerializer):
    project = serializers.UUIDField(source="project.public_id", allow_null=True,
                                    default=None, read_only=True)
    environment = serializers.CharField(source="environment.name", allow_null=True,
                                        default=None, read_only=True)
    caller = serializers.UUIDField(source="caller.public_id", allow_null=True, default=None,
                                   read_only=True)
    api_key = serializers.UUIDField(source="api_key.public_id", allow_null=True,
                                    default=None, read_only=True)

    class Meta:
        model = UsageRecord
        fields = ["source", "source_id", "occurred_at", "model", "provider", "action",
                  "api_key_ref", "project_ref", "environment_ref", "caller_ref", "api_key",
                  "project", "environment", "caller", "requests", "input_tokens",
                  "output_tokens", "cost_usd"]
