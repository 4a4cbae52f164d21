"""GET /api/v1/o/<org_slug>/lint/: the policy linter's findings for the whole org.

Read-only, for anyone who may read the matrix (approvals:read). The same findings as
`manage.py lint_policy --format json`, from approvals.lint.lint_org.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from approvals.lint import ERROR, RULES, WARNING, lint_org
from orgs.api_base import OrgScopedAPIView


class FindingSerializer(serializers.Serializer):
    rule = serializers.ChoiceField(choices=list(RULES))
    severity = serializers.ChoiceField(choices=[ERROR, WARNING])
    row = serializers.UUIDField(help_text="The policy row's public id.")
    message = serializers.CharField()
    fix = serializers.CharField()


class LintReportSerializer(serializers.Serializer):
    errors = serializers.IntegerField()
    warnings = serializers.IntegerField()
    findings = FindingSerializer(many=True)


class LintReport(OrgScopedAPIView):
    """Every lint finding on the org's unfinished rows, with its rule, message and fix.
    Not paginated: one finding per broken rule per row, loaded in a fixed number of
    queries (approvals.lint.load_snapshot)."""

    scopes = {"GET": "approvals:read"}
    serializer_class = LintReportSerializer

    @extend_schema(responses={200: LintReportSerializer})
    def get(self, request, org_slug):
        findings = lint_org(org=request.org)
        errors = sum(f.severity == ERROR for f in findings)
        report = {"errors": errors, "warnings": len(findings) - errors,
                  "findings": [f.as_dict() for f in findings]}
        return Response(LintReportSerializer(report).data)
