"""The dashboard's "Waiting for you" panel: the org dashboard (orgs/) loads it with htmx,
so orgs never imports approvals; without JavaScript its link opens it as a page."""

from django.shortcuts import render
from django.utils import timezone

from approvals.attention import attention_for
from orgs.decorators import org_view
from orgs.views import wants_partial


@org_view(scope="approvals:read")
def attention(request):
    """What waits for this person (approvals.attention): the panel, or the whole page."""
    context = {"attention": attention_for(org=request.org, actor=request.membership),
               "today": timezone.localdate()}
    template = "approvals/attention.html"
    return render(request, f"{template}#panel" if wants_partial(request) else template, context)
