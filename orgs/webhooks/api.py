"""Webhooks over the API: /api/v1/o/<org>/webhooks/… (org:write, like the pages)."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from orgs.api_base import OrgScopedAPIView
from orgs.events import CATEGORIES
from orgs.webhooks import selectors, services
from orgs.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


class EndpointSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    event_types = serializers.ListField(child=serializers.CharField(max_length=64),
                                        required=False, help_text=f"e.g. {', '.join(CATEGORIES)}")

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "event_types", "enabled", "disabled_reason",
                  "previous_secret_expires_at", "created_at"]
        read_only_fields = ["enabled", "disabled_reason", "previous_secret_expires_at",
                            "created_at"]


class EndpointWithSecretSerializer(EndpointSerializer):
    secret = serializers.CharField(read_only=True, help_text="Shown once. Store it now.")

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]


class EnabledSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["attempted_at", "status_code", "latency_ms", "response_excerpt", "error"]


class DeliverySerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    event_type = serializers.CharField(source="event.kind", read_only=True)
    event_id = serializers.UUIDField(source="event.public_id", read_only=True)
    attempt_log = AttemptSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = ["id", "event_type", "event_id", "status", "attempts", "next_attempt_at",
                  "last_status_code", "last_latency_ms", "created_at", "delivered_at",
                  "attempt_log"]


def _valid(serializer_class, data):
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class EndpointScoped(OrgScopedAPIView):
    """Resolves the endpoint in the URL before any handler (foreign ids are 404 first)."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.endpoint = selectors.endpoint_get(org=request.org, public_id=kwargs["public_id"])

    def get_object(self):
        # DRF's OPTIONS metadata asks for the object of a PUT; it is resolved already.
        return self.endpoint


class EndpointList(mixins.ListModelMixin, OrgScopedAPIView):
    scopes = {"GET": "org:write", "POST": "org:write"}
    serializer_class = EndpointSerializer

    def get_queryset(self):
        return selectors.endpoint_list(org=self.request.org)

    def get(self, request, org_slug):
        return self.list(request)

    @extend_schema(responses={201: EndpointWithSecretSerializer})
    def post(self, request, org_slug):
        endpoint, secret = services.endpoint_create(
            org=request.org, actor=request.membership, **_valid(EndpointSerializer, request.data))
        endpoint.secret = secret
        return Response(EndpointWithSecretSerializer(endpoint).data,
                        status=status.HTTP_201_CREATED)


class EndpointDetail(EndpointScoped):
    scopes = {"GET": "org:write", "PUT": "org:write", "PATCH": "org:write",
              "DELETE": "org:write"}
    serializer_class = EndpointSerializer

    def get(self, request, org_slug, public_id):
        return Response(self.get_serializer(self.endpoint).data)

    def put(self, request, org_slug, public_id):
        data = _valid(EndpointSerializer, request.data)
        endpoint = services.endpoint_update(org=request.org, actor=request.membership,
                                            endpoint=self.endpoint, **data)
        return Response(self.get_serializer(endpoint).data)

    @extend_schema(request=EnabledSerializer, responses=EndpointSerializer)
    def patch(self, request, org_slug, public_id):
        enabled = _valid(EnabledSerializer, request.data)["enabled"]
        endpoint = services.endpoint_set_enabled(
            org=request.org, actor=request.membership, endpoint=self.endpoint, enabled=enabled,
            reason="turned off through the API")
        return Response(self.get_serializer(endpoint).data)

    def delete(self, request, org_slug, public_id):
        services.endpoint_delete(org=request.org, actor=request.membership,
                                 endpoint=self.endpoint)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndpointRotate(EndpointScoped):
    scopes = {"POST": "org:write"}
    serializer_class = EndpointWithSecretSerializer

    @extend_schema(request=None, responses=EndpointWithSecretSerializer)
    def post(self, request, org_slug, public_id):
        secret = services.endpoint_rotate_secret(org=request.org, actor=request.membership,
                                                 endpoint=self.endpoint)
        self.endpoint.refresh_from_db()
        self.endpoint.secret = secret
        return Response(self.get_serializer(self.endpoint).data)


class EndpointTest(EndpointScoped):
    scopes = {"POST": "org:write"}
    serializer_class = DeliverySerializer

    @extend_schema(request=None, responses={202: DeliverySerializer})
    def post(self, request, org_slug, public_id):
        delivery = services.endpoint_send_test(org=request.org, actor=request.membership,
                                               endpoint=self.endpoint)
        return Response(self.get_serializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class DeliveryList(mixins.ListModelMixin, EndpointScoped):
    scopes = {"GET": "org:write"}
    serializer_class = DeliverySerializer

    def get_queryset(self):
        return (WebhookDelivery.objects.for_org(self.request.org).filter(endpoint=self.endpoint)
                .select_related("event").prefetch_related("attempt_log")
                .order_by("-created_at"))

    def get(self, request, org_slug, public_id):
        return self.list(request)


class DeliveryRedeliver(EndpointScoped):
    scopes = {"POST": "org:write"}
    serializer_class = DeliverySerializer

    @extend_schema(request=None, responses={202: DeliverySerializer})
    def post(self, request, org_slug, public_id, delivery_id):
        delivery = selectors.delivery_get(org=request.org, endpoint=self.endpoint,
                                          public_id=delivery_id)
        delivery = services.delivery_redeliver(org=request.org, actor=request.membership,
                                               delivery=delivery)
        return Response(self.get_serializer(delivery).data, status=status.HTTP_202_ACCEPTED)
