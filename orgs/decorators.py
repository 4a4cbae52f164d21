"""The org resolver for HTML views: @org_view(scope=...)."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404

from orgs.models import Membership
from orgs.notifications.models import Notification


def resolve_membership(user, org_slug: str) -> Membership:
    """The user's membership in the org with this slug. Not a member (or no such org): 404."""
    if not user.is_authenticated:
        raise Http404("No such organization")
    unread = Notification.objects.filter(
        org=OuterRef("org"), user=OuterRef("user"), read_at__isnull=True,
    ).values("user").annotate(n=Count("pk")).values("n")
    membership = (
        # The org's security policy joins in too: the token rules read it (no query more).
        Membership.objects.select_related("org__security_policy", "user")
        # The navbar's unread badge rides on this query instead of costing one per page.
        .annotate(unread_notifications=Coalesce(Subquery(unread), 0))
        .filter(user=user, org__slug=org_slug).first()
    )
    if membership is None:
        raise Http404("No such organization")
    return membership


def org_view(scope: str = "org:read"):
    """Resolve <org_slug> to request.org and request.membership, then check one scope.

    Anonymous users go to the login page; non-members get 404 (an org you are not in
    looks exactly like one that does not exist); members without the scope get 403.
    """

    def decorator(view):
        @wraps(view)
        def wrapper(request, org_slug, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership = resolve_membership(request.user, org_slug)
            if not membership.has_scope(scope):
                raise PermissionDenied(
                    f"Your role ({membership.get_role_display()}) cannot open this page."
                )
            request.org, request.membership = membership.org, membership
            return view(request, *args, **kwargs)

        wrapper.required_scope = scope
        return wrapper

    return decorator
