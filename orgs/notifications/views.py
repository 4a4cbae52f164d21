"""The notification centre and preferences, per org: /o/<org>/notifications/."""

from django.core.paginator import Paginator
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from orgs.decorators import org_view
from orgs.notifications import selectors, services
from orgs.views import done


@org_view()
def notification_list(request):
    page = Paginator(selectors.notification_list(org=request.org, user=request.user), 50) \
        .get_page(request.GET.get("page"))
    return render(request, "orgs/notification_list.html", {"page": page})


@require_POST
@org_view()
def notification_read(request):
    """Mark one (`event` = its id) or, without it, all of my notifications read."""
    ids = request.POST.getlist("event") or None
    count = services.notification_mark_read(org=request.org, user=request.user, public_ids=ids)
    return done(request, reverse("notifications:notification_list", args=[request.org.slug]),
                f"{count} marked read.")


@org_view()
def preferences(request):
    """Per category: in-app and email. A person's own choice; any member may set theirs."""
    rows = selectors.preference_table(org=request.org, user=request.user)
    if request.method == "POST":
        choices = {r["category"]: (f"{r['category']}:in_app" in request.POST,
                                   f"{r['category']}:email" in request.POST) for r in rows}
        services.notification_preferences_set(org=request.org, user=request.user,
                                              choices=choices)
        return done(request, reverse("notifications:preferences", args=[request.org.slug]),
                    "Notification preferences saved.")
    return render(request, "orgs/notification_preferences.html", {"rows": rows})
