"""POST /api/v1/decisions and /api/v1/decisions/batch: the gateway's question.

Authenticated only by a team credential (`Authorization: Bearer gvk_...` or `gvt_...`):
the credential names the org, so there is no org in the path. Personal tokens and
sessions are refused (401): reviewers hold no route to model calls. A well-formed
credential that is unknown, revoked, expired or of another environment gets a 200 deny
with its reason code, like every other deny, so a gateway has one answer shape to read.

The hot path: a well-formed JSON request with a well-formed credential is answered by a
plain Django view (`_fast`), without DRF's request, parser, serializer and renderer
layers (about a fifth of a decision's CPU). Anything else, a missing field, a bad
header, a form body, goes to the DRF view below, which gives every error its field-level
answer and documents the endpoint in the schema. Both paths call the same decide()."""

from django.contrib.auth.models import AnonymousUser
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import authentication, exceptions, permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from approvals.decisions.service import Query, Throttled, decide
from approvals.models import Action, DataClass
from orgs import jsonbody, ratelimit
from orgs.middleware import client_ip
from projects.secrets import kind_of

MAX_BATCH = 100
_ACTIONS = frozenset(Action.values)
_DATA_CLASSES = frozenset(DataClass.values)


class TeamCredentialAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        address = client_ip(request)
        if wait := ratelimit.failed_auth_blocked(address):
            raise exceptions.Throttled(wait, ratelimit.FAILED_AUTH_MESSAGE)
        if len(header) != 2 or header[0] != self.keyword or kind_of(header[1]) is None:
            ratelimit.failed_auth_record(address)
            raise exceptions.AuthenticationFailed(
                "Send a team API key or workload token: Authorization: Bearer gvk_... "
                "(personal tokens and sessions get no decisions).")
        return AnonymousUser(), header[1]

    def authenticate_header(self, request):
        return self.keyword


class TeamCredentialScheme(OpenApiAuthenticationExtension):
    target_class = TeamCredentialAuthentication
    name = "teamCredential"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "A team API key (gvk_...) or exchanged workload token (gvt_...)."}


class HasTeamCredential(permissions.BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.auth, str)


class DecisionRequestSerializer(serializers.Serializer):
    model = serializers.CharField(max_length=300, help_text=(
        "The model id as the gateway sends it (\"gpt-4o\"), optionally qualified by the "
        "catalog platform (\"openai/gpt-4o\")."))
    action = serializers.ChoiceField(choices=Action.choices)
    data_class = serializers.ChoiceField(choices=DataClass.choices)
    environment = serializers.CharField(max_length=64, help_text=(
        "The credential's environment: its name (\"production\") or public id."))

    def to_query(self) -> Query:
        data = self.validated_data
        return Query(model=data["model"], action=data["action"],
                     data_class=data["data_class"], environment=data["environment"])


class BatchRequestSerializer(serializers.Serializer):
    requests = DecisionRequestSerializer(many=True, allow_empty=False, max_length=MAX_BATCH)


class RemainingSerializer(serializers.Serializer):
    daily = serializers.DecimalField(max_digits=14, decimal_places=4, allow_null=True,
                                     coerce_to_string=True)
    monthly = serializers.DecimalField(max_digits=14, decimal_places=4, coerce_to_string=True)


class FallbackSerializer(serializers.Serializer):
    row = serializers.UUIDField()
    models = serializers.ListField(child=serializers.CharField())


class DecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["allow", "deny"])
    reasons = serializers.ListField(child=serializers.CharField(), help_text=(
        "Machine-readable reason codes, e.g. allow, no_matching_row, denied_by_rule, "
        "over_daily_cap (see docs/gateway-integration.md)."))
    message = serializers.CharField(help_text="Which rule, row or limit decided, for humans.")
    row = serializers.UUIDField(allow_null=True, help_text="The deciding row's public id.")
    rule = serializers.UUIDField(allow_null=True, help_text="The deny rule's public id.")
    remaining_budget = RemainingSerializer(allow_null=True)
    fallbacks = FallbackSerializer(many=True)
    warnings = serializers.ListField(child=serializers.CharField())


class BatchDecisionSerializer(serializers.Serializer):
    decisions = DecisionSerializer(many=True)


THROTTLED = OpenApiResponse(description=(
    "Too many failed credential authentications from this address "
    "(FAILED_TOKEN_AUTH_RATE); the Retry-After header says when to try again."))


def _decide(request, queries):
    try:
        return decide(request.auth, queries, client=client_ip(request))
    except Throttled as exc:
        raise exceptions.Throttled(exc.wait, str(exc)) from None


class _DecisionView(APIView):
    authentication_classes = [TeamCredentialAuthentication]
    permission_classes = [HasTeamCredential]


class DecisionView(_DecisionView):
    @extend_schema(request=DecisionRequestSerializer,
                   responses={200: DecisionSerializer, 429: THROTTLED},
                   operation_id="decisions_create", summary="Allow or deny one model call")
    def post(self, request):
        body = DecisionRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        _, [decision] = _decide(request, [body.to_query()])
        return Response(decision.as_dict())


class BatchDecisionView(_DecisionView):
    @extend_schema(request=BatchRequestSerializer,
                   responses={200: BatchDecisionSerializer, 429: THROTTLED},
                   operation_id="decisions_batch",
                   summary=f"Allow or deny up to {MAX_BATCH} model calls")
    def post(self, request):
        body = BatchRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        queries = [Query(**item) for item in body.validated_data["requests"]]
        _, decisions = _decide(request, queries)
        return Response({"decisions": [d.as_dict() for d in decisions]})


# The hot path. Each check mirrors the serializer above; a value it is unsure of (not a
# string, blank, too long, a NUL or surrogate character) sends the request to DRF, whose
# answer is then the only one.
def _text(value, max_length: int):
    if type(value) is not str:
        return None
    value = value.strip()
    if not value or len(value) > max_length or "\x00" in value or not value.isprintable():
        return None
    return value


def _query(item) -> Query | None:
    if type(item) is not dict:
        return None
    model, environment = _text(item.get("model"), 300), _text(item.get("environment"), 64)
    action, data_class = item.get("action"), item.get("data_class")
    # The type checks come first: a list or object is unhashable, and the set lookup
    # would raise TypeError (a 500) instead of handing the request to DRF's 400.
    if model is None or environment is None or type(action) is not str \
            or type(data_class) is not str or action not in _ACTIONS \
            or data_class not in _DATA_CLASSES:
        return None
    return Query(model=model, action=action, data_class=data_class, environment=environment)


def _one(body):
    query = _query(body)
    return None if query is None else [query]


def _batch(body):
    items = body.get("requests") if type(body) is dict else None
    if type(items) is not list or not 0 < len(items) <= MAX_BATCH:
        return None
    queries = [_query(item) for item in items]
    return None if None in queries else queries


def _throttled(exc: Throttled) -> JsonResponse:
    # The same body and header as DRF's answer to exceptions.Throttled on the slow path.
    response = JsonResponse({"detail": f"{exc} Expected available in {exc.wait} seconds."},
                            status=429)
    response["Retry-After"] = str(exc.wait)
    return response


def _fast(view_class, parse, shape):
    """A plain view for well-formed requests; the DRF view for everything else."""
    drf_view = view_class.as_view()

    @csrf_exempt
    def view(request, *args, **kwargs):
        header = request.META.get("HTTP_AUTHORIZATION", "").split()
        if (request.method == "POST" and len(header) == 2 and header[0] == "Bearer"
                and kind_of(header[1]) is not None
                and request.content_type == "application/json"):
            try:
                # No depth walk: _query takes flat strings only, so anything nested goes
                # to the DRF view, whose parser walks it (the walk would cost a batch).
                queries = parse(jsonbody.loads(request.body, walk=False))
            except jsonbody.BodyError:
                queries = None  # DRF's parser answers it
            if queries is not None:
                try:
                    _, decisions = decide(header[1], queries, client=client_ip(request))
                except Throttled as exc:
                    return _throttled(exc)
                return JsonResponse(shape(decisions), json_dumps_params={
                    "separators": (",", ":"), "ensure_ascii": False})
        return drf_view(request, *args, **kwargs)

    view.cls, view.initkwargs = view_class, {}  # drf-spectacular documents the DRF view
    return view


decision_view = _fast(DecisionView, _one, lambda decisions: decisions[0].as_dict())
batch_decision_view = _fast(BatchDecisionView, _batch,
                            lambda decisions: {"decisions": [d.as_dict() for d in decisions]})
