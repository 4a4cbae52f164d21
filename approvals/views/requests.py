"""Not built yet: see approvals/urls.py for what goes here."""

from django.http import Http404


def request_list(request, org_slug, **kwargs):
    raise Http404("Not built yet")


def request_create(request, org_slug, **kwargs):
    raise Http404("Not built yet")


def request_validate(request, org_slug, **kwargs):
    raise Http404("Not built yet")


def model_search(request, org_slug, **kwargs):
    raise Http404("Not built yet")


def request_edit(request, org_slug, **kwargs):
    raise Http404("Not built yet")

