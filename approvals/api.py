"""The rows API under /api/v1/o/<org_slug>/: rows (list, file, read, edit), one POST per
workflow verb, sign-offs, the sign-off inbox and deny rules.

Every method maps to a scope on the org base (OrgScopedAPIView); reads need
approvals:read, which every member holds, and the services decide who may write
(PermissionDenied -> 403). A move the transition table does not allow answers 409 with
the reason; a ValidationError answers 400 with field errors. Objects of another org are
404. Every write answers with the object re-read through the org's selector.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.response import Response

from approvals import selectors, services
from approvals.serializers import (
    DenyRuleCreatedSerializer,
    DenyRuleCreateSerializer,
    DenyRuleFilterSerializer,
    DenyRuleSerializer,
    InboxItemSerializer,
    MoveSerializer,
    ReasonSerializer,
    RowFilterSerializer,
    RowSerializer,
    RowWriteSerializer,
    SignOffCreateSerializer,
)
from approvals.workflow import InvalidTransition
from orgs.api_base import OrgScopedAPIView
from orgs.scoping import get_for_org_or_404

READ = "approvals:read"
# The workflow verbs with their service and the one text argument each needs, if any.
MOVES = {
    "submit": (services.row_submit, None),
    "screen": (services.row_screen, None),
    "start_testing": (services.row_start_testing, None),
    "start_evidence": (services.row_start_evidence, None),
    "send_to_review": (services.row_send_to_review, None),
    "request_changes": (services.row_request_changes, "comment"),
    "reject": (services.row_reject, "comment"),
    "suspend": (services.row_suspend, "reason"),
    "resume": (services.row_resume, None),
    "revoke": (services.row_revoke, "reason"),
    "mark_renewal_due": (services.row_mark_renewal_due, None),
    "expire": (services.row_expire, None),
}


def _valid(serializer_class, data, context, **kwargs):
    serializer = serializer_class(data=data, context=context, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ApprovalsAPIView(OrgScopedAPIView):
    """The org base, plus: InvalidTransition -> 409 {"detail": why}."""

    conflict_on_write = True  # the schema documents the 409 on its writes

    def handle_exception(self, exc):
        if isinstance(exc, InvalidTransition):
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return super().handle_exception(exc)

    def row_response(self, row, code=status.HTTP_200_OK):
        row = selectors.row_get_detailed(org=self.request.org, public_id=row.public_id)
        return Response(RowSerializer(row).data, status=code)


class RowScoped(ApprovalsAPIView):
    """Resolves the row in the URL before any handler runs: a foreign row is 404 even
    when the body is bad too."""

    serializer_class = RowSerializer

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.row = selectors.row_get_detailed(org=request.org, public_id=kwargs["public_id"])


class RowList(mixins.ListModelMixin, ApprovalsAPIView):
    """GET: the org's rows, newest first (filters: status, project, environment).
    POST: file a new row, saved as a draft (approvals:request)."""

    scopes = {"GET": READ, "POST": "approvals:request"}
    serializer_class = RowSerializer

    def get_queryset(self):
        filters = _valid(RowFilterSerializer, self.request.query_params,
                         self.get_serializer_context())
        return selectors.row_list_detailed(org=self.request.org, **filters)

    @extend_schema(parameters=[RowFilterSerializer])
    def get(self, request, org_slug):
        return self.list(request)

    @extend_schema(request=RowWriteSerializer, responses={201: RowSerializer})
    def post(self, request, org_slug):
        data = dict(_valid(RowWriteSerializer, request.data, self.get_serializer_context()))
        row = services.row_create(org=request.org, actor=request.membership,
                                  approved_models=data.pop("approved_models"), **data)
        return self.row_response(row, status.HTTP_201_CREATED)


class RowDetail(RowScoped):
    """GET: one row with its models and signatures. PATCH: edit it while it is with the
    requester; a change of content is a new version and voids the signatures."""

    scopes = {"GET": READ, "PATCH": READ}

    def get(self, request, org_slug, public_id):
        return Response(self.get_serializer(self.row).data)

    @extend_schema(request=RowWriteSerializer, responses={200: RowSerializer})
    def patch(self, request, org_slug, public_id):
        data = dict(_valid(RowWriteSerializer, request.data, self.get_serializer_context(),
                           partial=True))
        row = services.row_update(org=request.org, actor=request.membership, row=self.row,
                                  **data)
        return self.row_response(row)


class RowMove(RowScoped):
    """POST: one workflow move of the row (the verb in the URL); see docs/approvals.md
    for who may make which move from which state."""

    scopes = {"POST": READ}
    verb = ""

    @extend_schema(request=MoveSerializer, responses={200: RowSerializer})
    def post(self, request, org_slug, public_id):
        service, text = MOVES[self.verb]
        data = _valid(MoveSerializer, request.data, self.get_serializer_context())
        extra = {text: data.get(text, "")} if text else {}
        row = service(org=request.org, actor=request.membership, row=self.row, **extra)
        return self.row_response(row)


class RowSignOffs(RowScoped):
    """POST: sign one role of a row in review: approve, or reject with a comment."""

    scopes = {"POST": READ}

    @extend_schema(request=SignOffCreateSerializer, responses={200: RowSerializer})
    def post(self, request, org_slug, public_id):
        data = _valid(SignOffCreateSerializer, request.data, self.get_serializer_context())
        row = services.signoff_record(org=request.org, actor=request.membership,
                                      row=self.row, **data)
        return self.row_response(row)


class Inbox(ApprovalsAPIView):
    """GET: the rows waiting for your signature, oldest first, with the roles you may
    sign (not paginated: three queries whatever its length, see signoff_inbox)."""

    scopes = {"GET": READ}
    serializer_class = InboxItemSerializer
    pagination_class = None  # the schema then says: a bare list, as answered

    @extend_schema(responses={200: InboxItemSerializer(many=True)})
    def get(self, request, org_slug):
        items = selectors.signoff_inbox(org=request.org, actor=request.membership)
        return Response(InboxItemSerializer(items, many=True).data)


class DenyRuleList(mixins.ListModelMixin, ApprovalsAPIView):
    """GET: the org's deny rules (?state=active, inactive or all). POST: add one (admins
    and security reviewers)."""

    scopes = {"GET": READ, "POST": READ}
    serializer_class = DenyRuleSerializer
    STATES = {"active": True, "inactive": False, "all": None}

    def get_queryset(self):
        state = _valid(DenyRuleFilterSerializer, self.request.query_params, {})["state"]
        return selectors.deny_rule_list(org=self.request.org, active=self.STATES[state])

    @extend_schema(parameters=[DenyRuleFilterSerializer])
    def get(self, request, org_slug):
        return self.list(request)

    @extend_schema(request=DenyRuleCreateSerializer, responses={201: DenyRuleCreatedSerializer})
    def post(self, request, org_slug):
        data = _valid(DenyRuleCreateSerializer, request.data, self.get_serializer_context())
        rule = services.deny_rule_create(org=request.org, actor=request.membership, **data)
        return Response(DenyRuleCreatedSerializer(rule).data, status=status.HTTP_201_CREATED)


class DenyRuleDeactivate(ApprovalsAPIView):
    """POST: lift an active deny rule, saying why; it stays for the record."""

    scopes = {"POST": READ}
    serializer_class = DenyRuleSerializer

    @extend_schema(request=ReasonSerializer, responses={200: DenyRuleSerializer})
    def post(self, request, org_slug, public_id):
        rule = get_for_org_or_404(selectors.deny_rule_list(org=request.org, active=None),
                                  request.org, public_id=public_id)
        data = _valid(ReasonSerializer, request.data, {})
        rule = services.deny_rule_deactivate(org=request.org, actor=request.membership,
                                             rule=rule, **data)
        return Response(self.get_serializer(rule).data)
