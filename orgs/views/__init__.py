"""HTML views for orgs, split by noun: account (home, org creation, tokens, invitation
links), members (members and invitations), org (dashboard, settings, placeholder
sections) and audit (log and CSV export).

Each view resolves the org with @org_view, validates one form, calls one service or
selector and renders or redirects. The helpers here keep the htmx handling in one place.
"""

from django.contrib import messages
from django.shortcuts import redirect
from django_htmx.http import HttpResponseLocation


def wants_partial(request) -> bool:
    """htmx asked for a fragment; a boosted request wants the whole page."""
    return bool(getattr(request, "htmx", False)) and not request.htmx.boosted


def done(request, url: str, message: str):
    """A state change succeeded: flash the message and send the browser to url.

    htmx gets HX-Location so it loads url in place, a plain form post gets a 302.
    """
    messages.success(request, message)
    if wants_partial(request):
        return HttpResponseLocation(url)
    return redirect(url)
