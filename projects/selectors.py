"""Reads for projects; every queryset is org-narrowed."""

from collections import defaultdict
from datetime import timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from orgs.audit import AuditEvent
from orgs.scoping import get_for_org_or_404
from projects.models import (
    ApiKey,
    Caller,
    Environment,
    Project,
    ProjectUserObjectPermission,
    WorkloadIdentity,
)
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


# --- Keys and workload identities -----------------------------------------------------------

EXPIRING_SOON = timedelta(days=14)
KEY_STATUSES = ("active", "rotating", "expiring", "expired", "revoked")


def _key_status_q(status: str, now) -> Q:
    live = Q(revoked_at__isnull=True, expires_at__gt=now)
    return {
        "active": live & Q(rotated_at__isnull=True),
        "rotating": live & Q(rotated_at__isnull=False),
        "expiring": live & Q(rotated_at__isnull=True, expires_at__lte=now + EXPIRING_SOON),
        "expired": Q(revoked_at__isnull=True, expires_at__lte=now),
        "revoked": Q(revoked_at__isnull=False),
    }[status]


def key_list(*, org, project=None, environment=None, caller=None,
             status: str | None = None) -> QuerySet[ApiKey]:
    """Org's keys, newest first, with project, environment and caller joined (one query).
    Filters take objects already loaded through this org; status is one of KEY_STATUSES
    ('expiring': live and ending within EXPIRING_SOON)."""
    qs = ApiKey.objects.for_org(org).select_related("project", "environment", "caller",
                                                    "created_by")
    if project is not None:
        qs = qs.filter(project=project)
    if environment is not None:
        qs = qs.filter(environment=environment)
    if caller is not None:
        qs = qs.filter(caller=caller)
    if status:
        qs = qs.filter(_key_status_q(status, timezone.now()))
    return qs.order_by("-created_at", "-pk")


def key_get(*, org, public_id) -> ApiKey:
    return get_for_org_or_404(
        ApiKey.objects.select_related("project", "environment", "caller__owner__user",
                                      "created_by", "revoked_by", "rotated_from", "successor"),
        org, public_id=public_id)


def key_lineage_latest(*, org, key: ApiKey) -> ApiKey | None:
    """For pages that show a key an approval row is bound to: the newest key of its
    rotation lineage (the credential the row covers now) when `key` was rotated since,
    else None. Anyone who reads the row may call it; one query, and none for a key that
    was never rotated."""
    if key is None or key.rotated_at is None:
        return None
    return (ApiKey.objects.for_org(org).filter(lineage=key.lineage)
            .exclude(pk=key.pk).order_by("-created_at", "-pk").first())


def key_history(*, org, key) -> QuerySet[AuditEvent]:
    """The key's audit events, oldest first (one query)."""
    return AuditEvent.objects.for_org(org).filter(
        object_type=ApiKey._meta.model_name, object_id=str(key.public_id)).order_by("seq")


def environment_list_for_org(*, org) -> QuerySet[Environment]:
    return Environment.objects.for_org(org).select_related("project").order_by(
        "project__name", "created_at")


def caller_list_for_org(*, org) -> QuerySet[Caller]:
    return Caller.objects.for_org(org).select_related("project").order_by("project__name",
                                                                          "name")


def identity_list(*, org, project) -> QuerySet[WorkloadIdentity]:
    return (WorkloadIdentity.objects.for_org(org).filter(project=project)
            .select_related("environment", "caller").order_by("name"))


def identity_get(*, org, project, public_id) -> WorkloadIdentity:
    return get_for_org_or_404(
        WorkloadIdentity.objects.filter(project=project).select_related("environment",
                                                                        "caller"),
        org, public_id=public_id)
