"""The findings API under /api/v1/o/<org_slug>/findings/: the list (filters: state, kind,
project, row) and one POST per action (acknowledge, resolve with a note, reassign).

Everyone in the org reads (approvals:read); the services decide who acts (the finding's
owner, security reviewers, admins: 403 otherwise). A move the state does not allow answers
409; a missing note or a foreign owner answers 400 with field errors; another org's
finding is 404.
"""

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers
from rest_framework.response import Response

from approvals import finding_selectors as selectors
from approvals.api import ApprovalsAPIView, _valid
from approvals.finding_forms import STATES
from approvals.findings import finding_acknowledge, finding_assign, finding_resolve
from approvals.models import Finding, PolicyRow
from orgs.models import Membership
from projects.key_serializers import OrgObjectField
from projects.models import Project

READ = "approvals:read"


class ReconciliationFindingSerializer(serializers.ModelSerializer):
    """A raised finding (approvals.models.Finding); the lint report has its own kind."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    # A finding may name no row, no project (usage of an unknown key) and no owner.
    row = serializers.UUIDField(source="row.public_id", read_only=True, default=None,
                                allow_null=True)
    project = serializers.UUIDField(source="project.public_id", read_only=True, default=None,
                                    allow_null=True)
    project_name = serializers.CharField(source="project.name", read_only=True, default=None,
                                         allow_null=True)
    owner = serializers.UUIDField(source="owner.public_id", read_only=True, default=None,
                                  allow_null=True)
    owner_email = serializers.SerializerMethodField()

    class Meta:
        model = Finding
        fields = ["id", "kind", "severity", "state", "title", "detail", "row", "project",
                  "project_name", "source_type", "source_id", "link", "owner", "owner_email",
                  "raised_at", "acknowledged_at", "resolved_at", "resolution_note"]
        read_only_fields = fields

    @extend_schema_field(serializers.EmailField(allow_null=True))
    def get_owner_email(self, finding):
        return finding.owner.user.email if finding.owner_id else None


class FindingFilterSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=STATES, required=False, default="unresolved")
    kind = serializers.ChoiceField(choices=Finding.Kind.choices, required=False,
                                   allow_blank=True, default="")
    project = OrgObjectField(Project, required=False)
    row = OrgObjectField(PolicyRow, required=False)


class ResolveSerializer(serializers.Serializer):
    note = serializers.CharField(allow_blank=True, required=False, default="", help_text=(
        "Required: what was done about it, or why it needs nothing."))


class AssignSerializer(serializers.Serializer):
    owner = OrgObjectField(Membership, help_text="The member who takes it over.")


class FindingList(mixins.ListModelMixin, ApprovalsAPIView):
    """GET: the org's findings, newest first; unresolved ones unless ?state= says else."""

    scopes = {"GET": READ}
    serializer_class = ReconciliationFindingSerializer

    def get_queryset(self):
        filters = _valid(FindingFilterSerializer, self.request.query_params,
                         self.get_serializer_context())
        return selectors.finding_list(org=self.request.org, **filters)

    @extend_schema(parameters=[FindingFilterSerializer])
    def get(self, request, org_slug):
        return self.list(request)


class FindingAction(ApprovalsAPIView):
    """POST: one action on a finding (the base of the three below)."""

    scopes = {"POST": READ}
    serializer_class = ReconciliationFindingSerializer
    input_serializer = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.finding = selectors.finding_get(org=request.org, public_id=kwargs["public_id"])

    def act(self, **data):
        raise NotImplementedError

    def post(self, request, org_slug, public_id):
        data = _valid(self.input_serializer, request.data, self.get_serializer_context()) \
            if self.input_serializer else {}
        finding = self.act(**data)
        finding = selectors.finding_get(org=request.org, public_id=finding.public_id)
        return self.response(finding)

    def response(self, finding):
        return Response(ReconciliationFindingSerializer(finding).data)


class FindingAcknowledge(FindingAction):
    """POST: acknowledge an open finding (someone is on it)."""

    @extend_schema(request=None, responses={200: ReconciliationFindingSerializer})
    def post(self, request, org_slug, public_id):
        return super().post(request, org_slug, public_id)

    def act(self):
        return finding_acknowledge(org=self.request.org, actor=self.request.membership,
                                   finding=self.finding)


class FindingResolve(FindingAction):
    """POST: resolve a finding with a note (required)."""

    input_serializer = ResolveSerializer

    @extend_schema(request=ResolveSerializer, responses={200: ReconciliationFindingSerializer})
    def post(self, request, org_slug, public_id):
        return super().post(request, org_slug, public_id)

    def act(self, note):
        return finding_resolve(org=self.request.org, actor=self.request.membership,
                               finding=self.finding, note=note)


class FindingAssign(FindingAction):
    """POST: hand a finding to another member of the org."""

    input_serializer = AssignSerializer

    @extend_schema(request=AssignSerializer, responses={200: ReconciliationFindingSerializer})
    def post(self, request, org_slug, public_id):
        return super().post(request, org_slug, public_id)

    def act(self, owner):
        return finding_assign(org=self.request.org, actor=self.request.membership,
                              finding=self.finding, owner=owner)
