"""API views of the model catalog (org-scoped): snapshots, entry search, model history,
diff, and import jobs. Reads need catalog:read; imports need catalog:write."""

from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from evidence import catalog, selectors
from evidence.diff import catalog_diff
from evidence.forms import CatalogFilterForm, DiffForm
from evidence.serializers import (
    EntrySerializer,
    HistoryEntrySerializer,
    ImportJobSerializer,
    ImportRequestSerializer,
    ModelHistorySerializer,
    SnapshotSerializer,
)
from orgs.api_base import OrgScopedAPIView
from orgs.jsonbody import JSONParser
from orgs.schema import form_query_parameters

READ = {"GET": "catalog:read"}


def _form_or_400(form):
    if not form.is_valid():
        raise ValidationError({k: [str(e) for e in v] for k, v in form.errors.items()})
    return form.cleaned_data


class SnapshotList(mixins.ListModelMixin, OrgScopedAPIView):
    """GET: the org's snapshots. POST: queue an import (multipart file, or JSON url);
    answers 202 with the import job to poll."""

    scopes = {"GET": "catalog:read", "POST": "catalog:write"}
    serializer_class = SnapshotSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def get_queryset(self):
        return selectors.snapshot_list(org=self.request.org)

    def get(self, request, org_slug):
        return self.list(request)

    @extend_schema(request=ImportRequestSerializer, responses={202: ImportJobSerializer})
    def post(self, request, org_slug):
        serializer = ImportRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        job = catalog.import_job_create(
            org=request.org, actor=request.membership, format=data["format"],
            source_name=data.get("source_name", ""), upload=data.get("file"),
            url=data.get("url", ""), snapshot_date=data.get("snapshot_date"))
        job = selectors.import_job_get(org=request.org, public_id=job.public_id)
        return Response(ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class SnapshotDetail(OrgScopedAPIView):
    scopes = READ
    serializer_class = SnapshotSerializer

    def get(self, request, org_slug, public_id):
        snapshot = selectors.snapshot_get(org=request.org, public_id=public_id)
        return Response(self.get_serializer(snapshot).data)


class EntryList(mixins.ListModelMixin, OrgScopedAPIView):
    """Entries of one snapshot (?snapshot=<id>, default the newest), with the catalog
    page's filters: q, platform, family, availability, price_min/max, context_min/max,
    sort."""

    scopes = READ
    serializer_class = EntrySerializer

    def get_queryset(self):
        form = CatalogFilterForm(self.request.query_params, org=self.request.org)
        data = _form_or_400(form)
        snapshot = data["snapshot"] or selectors.snapshot_list(org=self.request.org).first()
        if snapshot is None:
            return selectors.entry_search(org=self.request.org, snapshot=None).none()
        return selectors.entry_search(org=self.request.org, snapshot=snapshot,
                                      **form.filters())

    @extend_schema(parameters=form_query_parameters(CatalogFilterForm))
    def get(self, request, org_slug):
        return self.list(request)


class ModelDetail(OrgScopedAPIView):
    """One entry and the same model's entry in every snapshot (price, context and
    availability history)."""

    scopes = READ
    serializer_class = HistoryEntrySerializer

    @extend_schema(responses=ModelHistorySerializer)
    def get(self, request, org_slug, public_id):
        entry = selectors.entry_get(org=request.org, public_id=public_id)
        history = selectors.model_history(org=request.org, entry=entry)
        return Response({"entry": self.get_serializer(entry).data,
                         "history": self.get_serializer(history, many=True).data})


class Diff(OrgScopedAPIView):
    """?old=<snapshot id>&new=<snapshot id>: counts, counts by platform and by family, and
    every change with its old and new values."""

    scopes = READ

    @extend_schema(responses=OpenApiTypes.OBJECT, parameters=form_query_parameters(DiffForm))
    def get(self, request, org_slug):
        data = _form_or_400(DiffForm(request.query_params, org=request.org))
        return Response(catalog_diff(org=request.org, old=data["old"], new=data["new"])
                        .as_dict())


class ImportJobDetail(OrgScopedAPIView):
    scopes = READ
    serializer_class = ImportJobSerializer

    def get(self, request, org_slug, public_id):
        job = selectors.import_job_get(org=request.org, public_id=public_id)
        return Response(self.get_serializer(job).data)
