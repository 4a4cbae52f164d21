"""The org's required-evidence rules page (/o/<org>/settings/evidence/): org admins and
owners only (org:write; 403 for other members, 404 for outsiders)."""

from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from approvals.checklist import TIERS, evidence_rules_get
from approvals.evidence_rules_forms import EvidenceRulesForm
from approvals.models import DataClass
from approvals.services import evidence_rules as rules_service
from orgs.decorators import org_view
from orgs.forms import add_service_error
from orgs.views import done

TIER_COLUMNS = [(t, rules_service.tier_field(t)) for t in TIERS]
CLASS_COLUMNS = [(dc, rules_service.data_class_field(dc)) for dc in DataClass.values]


def _url(request):
    return reverse("approvals:evidence_rules", args=[request.org.slug])


@org_view(scope="org:write")
def evidence_rules(request):
    """The table of required evidence per tier and data class; POST saves it."""
    rules = evidence_rules_get(org=request.org)
    form = EvidenceRulesForm(request.POST or None,
                             initial=EvidenceRulesForm.initial_for(rules))
    if request.method == "POST" and form.is_valid():
        try:
            rules_service.evidence_rules_update(org=request.org, actor=request.membership,
                                                **form.service_kwargs())
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return done(request, _url(request), "Evidence rules saved.")
    context = {"form": form, "tier_rows": form.table(TIER_COLUMNS),
               "tier_columns": form.columns(TIER_COLUMNS),
               "class_rows": form.table(CLASS_COLUMNS),
               "class_columns": form.columns(CLASS_COLUMNS)}
    return render(request, "approvals/evidence_rules.html", context,
                  status=400 if form.errors else 200)


@require_POST
@org_view(scope="org:write")
def evidence_rules_reset(request):
    """Back to the seed's defaults."""
    rules_service.evidence_rules_reset(org=request.org, actor=request.membership)
    return done(request, _url(request), "Evidence rules reset to the defaults.")
