"""API of usage and billing imports (org-scoped): batch pushes of lines, file uploads as
jobs, job progress, and the recent usage lines. Reads need evidence:read; writes need
can_import_usage (org admins, owners, finance owners)."""

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from evidence.usage import selectors, services
from evidence.usage.forms import UsageFilterForm
from evidence.usage.permissions import can_import_usage
from evidence.usage.serializers import (
    BatchResultSerializer,
    BillingBatchSerializer,
    UsageBatchSerializer,
    UsageImportRequestSerializer,
    UsageImportSerializer,
    UsageRecordSerializer,
)
from orgs.api_base import OrgScopedAPIView
from orgs.jsonbody import JSONParser
from orgs.schema import form_query_parameters

READ = {"GET": "evidence:read"}
BAD_LINES = OpenApiResponse(description='Bad lines, nothing written: {"lines": {"3": '
                            '{"cost_usd": ["An amount in USD, e.g. 0.0123."]}}} (1-based).')


def _require_import(request):
    if not can_import_usage(request.membership):
        raise PermissionDenied("Only org admins, owners and finance owners import usage.")


class _Batch(OrgScopedAPIView):
    scopes = {"POST": "evidence:read"}  # and can_import_usage, checked by the service
    parser_classes = [JSONParser]
    kind = "usage"

    def post(self, request, org_slug):
        lines = request.data.get("lines") if isinstance(request.data, dict) else None
        try:
            job = services.usage_batch_push(org=request.org, actor=request.membership,
                                            kind=self.kind, lines=lines)
        except services.BatchError as exc:
            raise exceptions.ValidationError({"lines": exc.lines}) from None
        return Response(BatchResultSerializer(job).data, status=status.HTTP_200_OK)


class UsageBatch(_Batch):
    """POST {"lines": [...]} (up to 10,000 lines in the generic usage shape). All or
    nothing; idempotent by each line's id. Answers the counts added and skipped."""

    serializer_class = UsageBatchSerializer  # OPTIONS describes the body from it

    @extend_schema(request=UsageBatchSerializer,
                   responses={200: BatchResultSerializer, 400: BAD_LINES})
    def post(self, request, org_slug):
        return super().post(request, org_slug)


class BillingBatch(_Batch):
    """POST {"lines": [...]} of billing lines (generic billing shape); as usage."""

    kind = "billing"
    serializer_class = BillingBatchSerializer

    @extend_schema(request=BillingBatchSerializer,
                   responses={200: BatchResultSerializer, 400: BAD_LINES})
    def post(self, request, org_slug):
        return super().post(request, org_slug)


class ImportList(mixins.ListModelMixin, OrgScopedAPIView):
    """GET: the org's imports, newest first. POST (multipart kind, source, file): queue a
    file import; answers 202 with the job to poll."""

    scopes = {"GET": "evidence:read", "POST": "evidence:read"}
    serializer_class = UsageImportSerializer
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):
        return selectors.usage_import_list(org=self.request.org)

    def get(self, request, org_slug):
        return self.list(request)

    @extend_schema(request=UsageImportRequestSerializer, responses={202: UsageImportSerializer})
    def post(self, request, org_slug):
        _require_import(request)
        serializer = UsageImportRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        job = services.usage_import_create(org=request.org, actor=request.membership,
                                           kind=data["kind"], source=data["source"],
                                           upload=data["file"])
        job = selectors.usage_import_get(org=request.org, public_id=job.public_id)
        response = Response(UsageImportSerializer(job).data, status=status.HTTP_202_ACCEPTED)
        response["Location"] = request.build_absolute_uri(
            f"/api/v1/o/{request.org.slug}/usage/imports/{job.public_id}/")
        return response


class ImportDetail(OrgScopedAPIView):
    """One import: status, phase, progress and its report (counts, or every bad line)."""

    scopes = READ
    serializer_class = UsageImportSerializer

    def get(self, request, org_slug, public_id):
        job = selectors.usage_import_get(org=request.org, public_id=public_id)
        return Response(self.get_serializer(job).data)


class RecordList(mixins.ListModelMixin, OrgScopedAPIView):
    """Usage lines, newest first; ?project=<id>&model=<part>&source=<source>."""

    scopes = READ
    serializer_class = UsageRecordSerializer

    def get_queryset(self):
        form = UsageFilterForm(self.request.query_params, org=self.request.org)
        if not form.is_valid():
            raise exceptions.ValidationError(form.errors)
        filters = {k: v for k, v in form.cleaned_data.items() if v}
        return selectors.usage_record_list(org=self.request.org, **filters)

    @extend_schema(parameters=form_query_parameters(UsageFilterForm))
    def get(self, request, org_slug):
        return self.list(request)
