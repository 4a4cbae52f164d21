from rest_framework import serializers

from projects import selectors
from projects.keys import OVERLAPS
from projects.models import ApiKey, Caller, Environment, Project, WorkloadIdentity


class OrgObjectField(serializers.SlugRelatedField):
    """An object of the request's org by public id; other orgs' ids are 'not found'."""

    def __init__(self, model, **kwargs):
        self.model = model
        super().__init__(slug_field="public_id", queryset=model.objects.none(), **kwargs)

    def get_queryset(self):
        return self.model.objects.for_org(self.context["org"])


class KeySerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    project = serializers.UUIDField(source="project.public_id", read_only=True)
    environment = serializers.UUIDField(source="environment.public_id", read_only=True)
    environment_name = serializers.CharField(source="environment.name", read_only=True)
    tier = serializers.CharField(source="environment.tier", read_only=True)
    caller = serializers.UUIDField(source="caller.public_id", read_only=True)
    caller_name = serializers.CharField(source="caller.name", read_only=True)
    created_by = serializers.EmailField(source="created_by.email", read_only=True,
                                        default=None)
    status = serializers.CharField(read_only=True)

    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "status", "project", "environment",
                  "environment_name", "tier", "caller", "caller_name", "created_by",
                  "created_at", "expires_at", "last_used_at", "rotated_at", "revoked_at",
                  "revoked_reason"]
        read_only_fields = fields


class KeyWithSecretSerializer(KeySerializer):
    secret = serializers.SerializerMethodField(help_text="Shown in this response only.")

    class Meta(KeySerializer.Meta):
        fields = [*KeySerializer.Meta.fields, "secret"]
        read_only_fields = fields

    def get_secret(self, key) -> str:
        return self.context["secret"]


class KeyCreateSerializer(serializers.Serializer):
    project = OrgObjectField(Project)
    environment = OrgObjectField(Environment)
    caller = OrgObjectField(Caller)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    expires_in_days = serializers.IntegerField(required=False, min_value=1)


class KeyFilterSerializer(serializers.Serializer):
    project = OrgObjectField(Project, required=False)
    environment = OrgObjectField(Environment, required=False)
    caller = OrgObjectField(Caller, required=False)
    status = serializers.ChoiceField(choices=selectors.KEY_STATUSES, required=False)


class KeyRotateSerializer(serializers.Serializer):
    overlap_seconds = serializers.ChoiceField(choices=sorted(OVERLAPS))


class KeyRevokeSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class KeyLeakSerializer(serializers.Serializer):
    secret = serializers.CharField(max_length=200, write_only=True)


class WorkloadIdentitySerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    environment = OrgObjectField(Environment)
    caller = OrgObjectField(Caller)

    class Meta:
        model = WorkloadIdentity
        fields = ["id", "name", "environment", "caller", "issuer", "jwks_url", "audience",
                  "claim", "match", "pattern", "token_lifetime_seconds", "created_at"]
        read_only_fields = ["created_at"]


class TokenExchangeSerializer(serializers.Serializer):
    grant_type = serializers.CharField()
    subject_token = serializers.CharField()
    subject_token_type = serializers.CharField()


class OAuthErrorSerializer(serializers.Serializer):
    """RFC 6749 section 5.2: the token exchange's error body (not DRF's)."""

    error = serializers.ChoiceField(choices=["invalid_request", "invalid_grant",
                                             "unsupported_grant_type", "slow_down"],
                                    help_text="slow_down comes with 429 (rate limit)")
    error_description = serializers.CharField()


class KeyLeakResultSerializer(serializers.Serializer):
    revoked = serializers.BooleanField()
    key = KeySerializer(allow_null=True, help_text=(
        "The revoked key if it is this org's; null for a key of another org (revoked there, "
        "shown nowhere) or no key at all."))


class TokenResponseSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    issued_token_type = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField()

