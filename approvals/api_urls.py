"""The approvals API: the decision service (no org in the path: the credential names it),
the org's policy lint report, the rows API (approvals/api.py) and the findings API
(approvals/finding_api.py)."""

from django.urls import path

from approvals import api, finding_api
from approvals.decisions.api import batch_decision_view, decision_view
from approvals.decisions.log_api import DecisionLogList
from approvals.lint_api import LintReport

ORG = "o/<slug:org_slug>/"
ROW = ORG + "rows/<uuid:public_id>/"

urlpatterns = [
    path("decisions", decision_view, name="api_decisions"),
    path("decisions/batch", batch_decision_view, name="api_decisions_batch"),
    path(ORG + "lint/", LintReport.as_view(), name="api_lint"),
    path(ORG + "rows/", api.RowList.as_view(), name="api_row_list"),
    path(ROW, api.RowDetail.as_view(), name="api_row_detail"),
    *[path(ROW + f"{verb.replace('_', '-')}/", api.RowMove.as_view(verb=verb),
           name=f"api_row_{verb}") for verb in api.MOVES],
    path(ROW + "signoffs/", api.RowSignOffs.as_view(), name="api_row_signoffs"),
    path(ORG + "inbox/", api.Inbox.as_view(), name="api_inbox"),
    path(ORG + "deny-rules/", api.DenyRuleList.as_view(), name="api_deny_rule_list"),
    path(ORG + "deny-rules/<uuid:public_id>/deactivate/", api.DenyRuleDeactivate.as_view(),
         name="api_deny_rule_deactivate"),
    path(ORG + "decisions/log/", DecisionLogList.as_view(), name="api_decision_log"),
    path(ORG + "findings/", finding_api.FindingList.as_view(), name="api_finding_list"),
    path(ORG + "findings/<uuid:public_id>/acknowledge/",
         finding_api.FindingAcknowledge.as_view(), name="api_finding_acknowledge"),
    path(ORG + "findings/<uuid:public_id>/resolve/", finding_api.FindingResolve.as_view(),
         name="api_finding_resolve"),
    path(ORG + "findings/<uuid:public_id>/assign/", finding_api.FindingAssign.as_view(),
         name="api_finding_assign"),
]
