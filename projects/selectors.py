"""Reads for projects; every queryset is org-narrowed."""

from collections import defaultdict

from django.db.models import Count, QuerySet

from orgs.scoping import get_for_org_or_404
from projects.models import Caller, Environment, Project, ProjectUserObjectPermission
from projects.roles import role_from_perms


def project_list(*, org) -> QuerySet[Project]:
    """Org's projects with environment and caller counts (one query)."""
    return (
        Project.objects.for_org(org)
        .annotate(environment_count=Count("environments", distinct=True),
                  caller_count=Count("callers", distinct=True))
        .order_by("name")
    )


def project_get(*, org, public_id) -> Project:
    return get_for_org_or_404(Project, org, public_id=public_id)


def environment_list(*, org, project) -> QuerySet[Environment]:
    return Environment.objects.for_org(org).filter(project=project).order_by("created_at", "name")


def environment_get(*, org, project, public_id) -> Environment:
    return get_for_org_or_404(Environment.objects.filter(project=project), org,
                              public_id=public_id)


def caller_list(*, org, project) -> QuerySet[Caller]:
    return (
        Caller.objects.for_org(org).filter(project=project)
        .select_related("owner__user").order_by("name")
    )


def caller_get(*, org, project, public_id) -> Caller:
    return get_for_org_or_404(
        Caller.objects.filter(project=project).select_related("owner__user"), org,
        public_id=public_id,
    )


def project_role_map(*, org, project) -> dict[int, str]:
    """{user_id: project role} for everyone holding a role on project (one query)."""
    rows = ProjectUserObjectPermission.objects.filter(
        content_object=project, content_object__org=org
    ).values_list("user_id", "permission__codename")
    perms = defaultdict(set)
    for user_id, codename in rows:
        perms[user_id].add(codename)
    return {uid: role for uid, codes in perms.items() if (role := role_from_perms(codes))}


def project_role_of(*, project, user) -> str | None:
    codes = ProjectUserObjectPermission.objects.filter(
        content_object=project, user=user
    ).values_list("permission__codename", flat=True)
    return role_from_perms(codes)
