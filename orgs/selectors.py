"""Reads for orgs: every queryset here is already narrowed to one org (or one user)."""

from datetime import datetime

from django.db.models import Count, QuerySet
from django.utils import timezone

from orgs.audit import AuditEvent
from orgs.models import Invitation, Membership, PersonalToken
from orgs.roles import roles_with
from orgs.webhooks.models import WebhookEndpoint


def membership_list(*, org) -> QuerySet[Membership]:
    """All members of org with their user, ordered by email (2 tables, 1 query)."""
    return Membership.objects.for_org(org).select_related("user").order_by("user__email")


def membership_list_with_scope(*, org, scope: str) -> QuerySet[Membership]:
    """The members of org whose role holds scope, e.g. the people who take part in the
    approval workflow (auditors excluded) for a picker. Same single query."""
    return membership_list(org=org).filter(role__in=roles_with(scope))


def membership_get(*, org, public_id) -> Membership:
    from orgs.scoping import get_for_org_or_404

    return get_for_org_or_404(Membership.objects.select_related("user"), org, public_id=public_id)


def membership_for_user(*, user) -> QuerySet[Membership]:
    """The memberships of one user across orgs, for the org switcher."""
    return (
        Membership.objects.filter(user=user).select_related("org").order_by("org__name")
        if user.is_authenticated else Membership.objects.none()
    )


def invitation_list(*, org, open_only: bool = False) -> QuerySet[Invitation]:
    """Org's invitations, newest first; open_only keeps the ones whose link still works."""
    qs = Invitation.objects.for_org(org).select_related("invited_by")
    if open_only:
        qs = qs.filter(accepted_at__isnull=True, revoked_at__isnull=True,
                       expires_at__gt=timezone.now())
    return qs.order_by("-created_at")


def org_summary(*, org, actor, recent: int = 8) -> dict:
    """Counts and recent events for the dashboard: 3 counts, plus 1 events query for
    members with audit:read. Projects are counted through the reverse relation, since
    orgs/ may not import projects/."""
    return {
        "project_count": org.projects.count(),
        "member_count": membership_list(org=org).count(),
        "invitation_count": invitation_list(org=org, open_only=True).count(),
        "recent_events": (list(audit_event_list(org=org)[:recent])
                          if actor.has_scope("audit:read") else None),
        # What waits for this person (issue #8 adds sign-offs, renewals, budgets, expiries).
        "disabled_endpoints": (list(WebhookEndpoint.objects.for_org(org).filter(enabled=False))
                               if actor.has_scope("org:write") else []),
    }


def owner_count(*, org) -> int:
    return Membership.objects.for_org(org).filter(role="owner").count()


def audit_event_list(
    *, org, actor: str = "", action: str = "", object_type: str = "", object_id: str = "",
    since: datetime | None = None, until: datetime | None = None,
) -> QuerySet[AuditEvent]:
    """Org's audit events, newest first, filtered. actor matches the actor's email."""
    qs = AuditEvent.objects.for_org(org)
    if actor:
        qs = qs.filter(actor_label__icontains=actor)
    if action:
        qs = qs.filter(action__startswith=action)
    if object_type:
        qs = qs.filter(object_type=object_type)
    if object_id:
        qs = qs.filter(object_id=object_id)
    if since:
        qs = qs.filter(created_at__gte=since)
    if until:
        qs = qs.filter(created_at__lt=until)
    return qs.order_by("-seq")


def audit_action_choices(*, org) -> list[str]:
    return list(
        AuditEvent.objects.for_org(org).values_list("action", flat=True).distinct().order_by(
            "action")
    )


def personal_token_list(*, user) -> QuerySet[PersonalToken]:
    return PersonalToken.objects.filter(user=user).order_by("-created_at")


def org_member_counts(*, user):
    """The user's orgs annotated with their member count (one query)."""
    return (
        membership_for_user(user=user)
        .annotate(member_count=Count("org__memberships"))
    )
