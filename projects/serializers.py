from rest_framework import serializers

from orgs.models import Membership
from projects.models import Caller, Environment, Project
from projects.roles import ProjectRole


class ProjectSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = Project
        fields = ["id", "name", "slug", "description", "created_at"]
        read_only_fields = ["created_at"]
        # Uniqueness per org is the service's job (it knows the org); DRF's validator would not.
        validators = []
        extra_kwargs = {"slug": {"validators": []}}


class ProjectUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    description = serializers.CharField(required=False, allow_blank=True)


class EnvironmentSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = Environment
        fields = ["id", "name", "tier", "created_at"]
        read_only_fields = ["created_at"]
        validators = []
        extra_kwargs = {"name": {"validators": []}}


class OrgMemberField(serializers.SlugRelatedField):
    """A member of the request's org, by public id; other orgs' ids are 'not found'."""

    def __init__(self, **kwargs):
        super().__init__(slug_field="public_id", queryset=Membership.objects.none(), **kwargs)

    def get_queryset(self):
        return Membership.objects.for_org(self.context["org"]).select_related("user")


class CallerSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    owner = OrgMemberField(help_text="public id of the owning member")
    owner_email = serializers.EmailField(source="owner.user.email", read_only=True)

    class Meta:
        model = Caller
        fields = ["id", "name", "kind", "owner", "owner_email", "description", "created_at"]
        read_only_fields = ["created_at"]
        validators = []


class ProjectRoleSerializer(serializers.Serializer):
    member = OrgMemberField()
    role = serializers.ChoiceField(choices=ProjectRole.choices, allow_null=True)


class ProjectRoleEntrySerializer(serializers.Serializer):
    member = serializers.UUIDField()
    email = serializers.EmailField()
    role = serializers.CharField()
