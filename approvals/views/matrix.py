"""Not built yet: see approvals/urls.py for what goes here."""

from django.http import Http404


def matrix(request, org_slug, **kwargs):
    raise Http404("Not built yet")


def matrix_export_csv(request, org_slug, **kwargs):
    raise Http404("Not built yet")


def matrix_export_xlsx(request, org_slug, **kwargs):
    raise Http404("Not built yet")


def lint_report(request, org_slug, **kwargs):
    raise Http404("Not built yet")


def deny_rule_list(request, org_slug, **kwargs):
    raise Http404("Not built yet")


def deny_rule_create(request, org_slug, **kwargs):
    raise Http404("Not built yet")


def deny_rule_deactivate(request, org_slug, **kwargs):
    raise Http404("Not built yet")

