"""Not built yet: see approvals/urls.py for what goes here."""

from django.http import Http404


def approval_settings(request, org_slug, **kwargs):
    raise Http404("Not built yet")

