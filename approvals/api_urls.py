"""The approvals API: the decision service (no org in the path: the credential names it)
and the org's policy lint report."""

from django.urls import path

from approvals.decisions.api import BatchDecisionView, DecisionView
from approvals.decisions.log_api import DecisionLogList
from approvals.lint_api import LintReport

urlpatterns = [
    path("decisions", DecisionView.as_view(), name="api_decisions"),
    path("decisions/batch", BatchDecisionView.as_view(), name="api_decisions_batch"),
    path("o/<slug:org_slug>/lint/", LintReport.as_view(), name="api_lint"),
    path("o/<slug:org_slug>/decisions/log/", DecisionLogList.as_view(), name="api_decision_log"),
]
