"""API shapes for orgs. Input serializers validate shape; services decide the rest."""

from rest_framework import serializers

from orgs.audit import AuditEvent
from orgs.models import Invitation, Membership, Organization, PersonalToken
from orgs.roles import Role


class OrganizationSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    billing_owner = serializers.SlugRelatedField(
        slug_field="public_id", queryset=Membership.objects.none(), allow_null=True,
        required=False, help_text="public id of a member",
    )

    class Meta:
        model = Organization
        fields = ["id", "name", "slug", "billing_owner", "renewal_contact_email",
                  "finance_contact_email", "created_at"]
        read_only_fields = ["slug", "created_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        org = self.context.get("org")
        if org is not None:
            # Relational choices come from the org (STYLE rule 10): no foreign member ids.
            self.fields["billing_owner"].queryset = Membership.objects.for_org(org)


class OrganizationCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    slug = serializers.SlugField(max_length=50)
    renewal_contact_email = serializers.EmailField(required=False, allow_blank=True)
    finance_contact_email = serializers.EmailField(required=False, allow_blank=True)


class MyOrganizationSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="org.public_id")
    name = serializers.CharField(source="org.name")
    slug = serializers.CharField(source="org.slug")
    role = serializers.CharField()


class MembershipSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    name = serializers.CharField(source="user.name", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "email", "name", "role", "created_at"]
        read_only_fields = ["created_at"]


class RoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class InvitationSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    status = serializers.CharField(read_only=True)
    invited_by = serializers.EmailField(source="invited_by.email", read_only=True, default=None)

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "status", "invited_by", "created_at", "expires_at",
                  "accepted_at", "revoked_at"]


class InvitationCreateSerializer(serializers.Serializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.choices)
    days = serializers.IntegerField(min_value=1, max_value=30, default=7)


class InvitationAcceptSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=100)


class AuditEventSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    actor = serializers.CharField(source="actor_label")

    class Meta:
        model = AuditEvent
        fields = ["id", "seq", "created_at", "actor", "action", "object_type", "object_id",
                  "object_repr", "changes", "request_id", "client_ip", "prev_hash", "hash"]


class AuditFilterSerializer(serializers.Serializer):
    actor = serializers.CharField(required=False, allow_blank=True)
    action = serializers.CharField(required=False, allow_blank=True)
    object_type = serializers.CharField(required=False, allow_blank=True)
    object_id = serializers.CharField(required=False, allow_blank=True)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)


class PersonalTokenSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = PersonalToken
        fields = ["id", "name", "token_prefix", "created_at", "expires_at", "last_used_at",
                  "revoked_at", "is_active"]


class PersonalTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    days = serializers.IntegerField(min_value=1, max_value=365, default=90)


class PersonalTokenCreatedSerializer(PersonalTokenSerializer):
    secret = serializers.CharField(read_only=True, help_text="Shown once. Store it now.")

    class Meta(PersonalTokenSerializer.Meta):
        fields = [*PersonalTokenSerializer.Meta.fields, "secret"]
