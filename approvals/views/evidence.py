"""Not built yet: see approvals/urls.py for what goes here."""

from django.http import Http404


def row_evidence_attach(request, org_slug, **kwargs):
    raise Http404("Not built yet")


def row_evidence_review(request, org_slug, **kwargs):
    raise Http404("Not built yet")


def evidence_download(request, org_slug, **kwargs):
    raise Http404("Not built yet")

