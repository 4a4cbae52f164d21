"""API views for projects, environments, callers and project roles (org-scoped)."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.response import Response

from orgs.api_base import OrgScopedAPIView
from orgs.selectors import membership_list
from projects import selectors, services
from projects.serializers import (
    CallerSerializer,
    EnvironmentSerializer,
    ProjectRoleEntrySerializer,
    ProjectRoleSerializer,
    ProjectSerializer,
    ProjectUpdateSerializer,
)

# Reads need membership; writes are checked by the services' predicates (org scope or a
# guardian project role), so a member without either gets 403 from the service.
READ_WRITE = {"GET": "projects:read", "POST": "projects:read", "PATCH": "projects:read"}


def _valid(serializer_class, data, **kwargs):
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ProjectScoped(OrgScopedAPIView):
    """Resolves the project in the URL before any handler runs, so a foreign project is a
    404 even when the request body is also bad."""

    scopes = READ_WRITE

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.project = selectors.project_get(org=request.org, public_id=kwargs["public_id"])


class ProjectList(mixins.ListModelMixin, OrgScopedAPIView):
    scopes = {"GET": "projects:read", "POST": "projects:create"}
    serializer_class = ProjectSerializer

    def get_queryset(self):
        return selectors.project_list(org=self.request.org)

    def get(self, request, org_slug):
        return self.list(request)

    @extend_schema(responses={201: ProjectSerializer})
    def post(self, request, org_slug):
        project = services.project_create(org=request.org, actor=request.membership,
                                          **_valid(ProjectSerializer, request.data))
        return Response(self.get_serializer(project).data, status=status.HTTP_201_CREATED)


class ProjectDetail(ProjectScoped):
    scopes = {"GET": "projects:read", "PATCH": "projects:read"}
    serializer_class = ProjectSerializer

    def get(self, request, org_slug, public_id):
        return Response(self.get_serializer(self.project).data)

    @extend_schema(request=ProjectUpdateSerializer, responses=ProjectSerializer)
    def patch(self, request, org_slug, public_id):
        project = services.project_update(org=request.org, actor=request.membership,
                                          project=self.project,
                                          **_valid(ProjectUpdateSerializer, request.data))
        return Response(self.get_serializer(project).data)


class EnvironmentList(mixins.ListModelMixin, ProjectScoped):
    serializer_class = EnvironmentSerializer
    scopes = {"GET": "projects:read", "POST": "projects:read"}

    def get_queryset(self):
        return selectors.environment_list(org=self.request.org, project=self.project)

    def get(self, request, org_slug, public_id):
        return self.list(request)

    @extend_schema(responses={201: EnvironmentSerializer})
    def post(self, request, org_slug, public_id):
        env = services.environment_create(org=request.org, actor=request.membership,
                                          project=self.project,
                                          **_valid(EnvironmentSerializer, request.data))
        return Response(self.get_serializer(env).data, status=status.HTTP_201_CREATED)


class CallerList(mixins.ListModelMixin, ProjectScoped):
    serializer_class = CallerSerializer
    scopes = {"GET": "projects:read", "POST": "projects:read"}

    def get_queryset(self):
        return selectors.caller_list(org=self.request.org, project=self.project)

    def get(self, request, org_slug, public_id):
        return self.list(request)

    @extend_schema(responses={201: CallerSerializer})
    def post(self, request, org_slug, public_id):
        data = _valid(CallerSerializer, request.data, context=self.get_serializer_context())
        caller = services.caller_create(org=request.org, actor=request.membership,
                                        project=self.project, **data)
        return Response(self.get_serializer(caller).data, status=status.HTTP_201_CREATED)


class CallerDetail(ProjectScoped):
    serializer_class = CallerSerializer
    scopes = {"GET": "projects:read", "PATCH": "projects:read"}

    def get_object(self):
        return selectors.caller_get(org=self.request.org, project=self.project,
                                    public_id=self.kwargs["caller_id"])

    def get(self, request, org_slug, public_id, caller_id):
        return Response(self.get_serializer(self.get_object()).data)

    def patch(self, request, org_slug, public_id, caller_id):
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        caller = services.caller_update(org=request.org, actor=request.membership,
                                        caller=serializer.instance, **serializer.validated_data)
        return Response(self.get_serializer(caller).data)


class ProjectRoleList(ProjectScoped):
    """Who holds which role on the project; POST sets or (role=null) removes one."""

    serializer_class = ProjectRoleSerializer
    scopes = {"GET": "projects:read", "POST": "projects:read"}
    pagination_class = None  # a bare list (a project has few roles): so says the schema

    @extend_schema(responses=ProjectRoleEntrySerializer(many=True))
    def get(self, request, org_slug, public_id):
        roles = selectors.project_role_map(org=request.org, project=self.project)
        members = membership_list(org=request.org).filter(user_id__in=roles)
        data = [{"member": m.public_id, "email": m.user.email, "role": roles[m.user_id]}
                for m in members]
        return Response(ProjectRoleEntrySerializer(data, many=True).data)

    @extend_schema(responses=ProjectRoleEntrySerializer)
    def post(self, request, org_slug, public_id):
        data = _valid(ProjectRoleSerializer, request.data, context=self.get_serializer_context())
        role = services.project_role_set(org=request.org, actor=request.membership,
                                         project=self.project, membership=data["member"],
                                         role=data["role"])
        member = data["member"]
        return Response({"member": str(member.public_id), "email": member.user.email,
                         "role": role})
