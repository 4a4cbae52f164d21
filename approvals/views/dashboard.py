"""The dashboard's "Waiting for you" panel: the org dashboard (orgs/) loads it with htmx,
so orgs never imports approvals; without JavaScript its link opens it as a page."""

from django.shortcuts import render
from django.utils import timezone

from approvals import attention as panel
from orgs.decorators import org_view
from orgs.views import wants_partial


@org_view(scope="approvals:read")
def attention(request):
    """What waits for this person (approvals.attention): the panel, or the whole page."""
    context = {"attention": panel.attention_for(org=request.org, actor=request.membership),
               "today": timezone.localdate(),
               # The windows the panel's empty state names: the ones attention_for applies.
               "windows": {"renewal": panel.RENEWAL_WINDOW, "expiry": panel.EXPIRY_WINDOW,
                           "budget_percent": int(panel.BUDGET_SHARE * 100)}}
    template = "approvals/attention.html"
    return render(request, f"{template}#panel" if wants_partial(request) else template, context)
