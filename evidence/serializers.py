from rest_framework import serializers

from evidence.families import actions_for
from evidence.importers import Format
from evidence.models import CatalogEntry, CatalogSnapshot, ImportJob


class SnapshotSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = CatalogSnapshot
        fields = ["id", "source_name", "format", "source_ref", "sha256", "snapshot_date",
                  "imported_at", "imported_by_label", "entry_count", "skipped", "counts"]


class EntrySerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    families = serializers.ListField(source="family_list", child=serializers.CharField())
    actions = serializers.SerializerMethodField()

    class Meta:
        model = CatalogEntry
        fields = ["id", "key", "platform", "vendor", "model_id", "region", "family",
                  "families", "actions", "mode", "input_price", "output_price", "unit_price",
                  "price_unit", "context_window", "max_output_tokens", "deprecation_date",
                  "availability"]

    def get_actions(self, entry) -> list[str]:
        return sorted(actions_for(entry.family_list))


class HistoryEntrySerializer(EntrySerializer):
    snapshot = serializers.UUIDField(source="snapshot.public_id")
    snapshot_date = serializers.DateField(source="snapshot.snapshot_date")

    class Meta(EntrySerializer.Meta):
        fields = ["snapshot", "snapshot_date", *EntrySerializer.Meta.fields]


class ModelHistorySerializer(serializers.Serializer):
    """GET catalog/models/<id>/: the entry, and the same model in every snapshot."""

    entry = HistoryEntrySerializer()
    history = HistoryEntrySerializer(many=True)


class ImportJobSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    snapshot = serializers.UUIDField(source="snapshot.public_id", read_only=True,
                                     allow_null=True, default=None)

    class Meta:
        model = ImportJob
        fields = ["id", "status", "format", "source_name", "source_ref", "phase", "progress",
                  "total", "percent", "report", "snapshot", "created_at", "started_at",
                  "finished_at"]


class ImportRequestSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=Format.CHOICES)
    file = serializers.FileField(required=False)
    url = serializers.URLField(required=False, allow_blank=True)
    source_name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    snapshot_date = serializers.DateField(required=False, allow_null=True)

    def validate(self, data):
        if bool(data.get("file")) == bool(data.get("url")):
            raise serializers.ValidationError("Upload a file or give a URL (one of the two).")
        return data
