"""Pages of the approval matrix, under /o/<org_slug>/. One POST-only URL per state change
(STYLE.md rule 15); htmx posts to the same URLs."""

from django.urls import path

from approvals.views import (
    dashboard,
    decisions,
    evidence,
    evidence_rules,
    findings,
    matrix,
    packs,
    renewal,
    requests,
    rows,
    settings,
    smoke,
)

app_name = "approvals"

ROW = "matrix/<uuid:public_id>/"

urlpatterns = [
    # Filing and editing requests (views/requests.py).
    path("requests/", requests.request_list, name="request_list"),
    path("requests/new/", requests.request_create, name="request_create"),
    path("requests/validate/", requests.request_validate, name="request_validate"),
    path("requests/models/", requests.model_search, name="model_search"),
    path(ROW + "edit/", requests.request_edit, name="row_edit"),
    # The matrix, its exports, the lint report and deny rules (views/matrix.py).
    path("matrix/", matrix.matrix, name="matrix"),
    path("matrix/export.csv", matrix.matrix_export_csv, name="matrix_export_csv"),
    path("matrix/export.xlsx", matrix.matrix_export_xlsx, name="matrix_export_xlsx"),
    path("lint/", matrix.lint_report, name="lint"),
    path("deny-rules/", matrix.deny_rule_list, name="deny_rule_list"),
    path("deny-rules/new/", matrix.deny_rule_create, name="deny_rule_create"),
    path("deny-rules/<uuid:public_id>/deactivate/", matrix.deny_rule_deactivate,
         name="deny_rule_deactivate"),
    # One row: its page, workflow moves, sign-offs, reviewers, inbox (views/rows.py).
    path("inbox/", rows.inbox, name="inbox"),
    path(ROW, rows.row_detail, name="row_detail"),
    *[path(ROW + f"{verb.replace('_', '-')}/", rows.row_move, {"verb": verb},
           name=f"row_{verb}") for verb in rows.MOVES],
    path(ROW + "sign/", rows.row_sign, name="row_sign"),
    path(ROW + "reviewers/", rows.row_reviewer_grant, name="row_reviewer_grant"),
    # Evidence on a row (views/evidence.py).
    path(ROW + "evidence/", evidence.row_evidence_attach, name="row_evidence_attach"),
    path(ROW + "evidence/<uuid:item_id>/review/", evidence.row_evidence_review,
         name="row_evidence_review"),
    path(ROW + "evidence/<uuid:item_id>/download/", evidence.evidence_download,
         name="evidence_download"),
    # Route smoke tests of a row (views/smoke.py).
    path(ROW + "smoke/", smoke.row_smoke_start, name="row_smoke_start"),
    path(ROW + "smoke/<uuid:run_id>/", smoke.smoke_run_detail, name="smoke_run"),
    # Audit extracts and evidence packs (views/packs.py).
    path(ROW + "audit-extract/", packs.row_audit_extract, name="row_audit_extract"),
    path("packs/", packs.pack_list, name="pack_list"),
    path("packs/new/", packs.pack_create, name="pack_create"),
    path("packs/button/", packs.pack_button, name="pack_button"),
    path("packs/<uuid:public_id>/", packs.pack_detail, name="pack_detail"),
    path("packs/<uuid:public_id>/download/", packs.pack_download, name="pack_download"),
    # Renewal review (views/renewal.py).
    path(ROW + "renewal/", renewal.renewal_review, name="renewal_review"),
    path(ROW + "renewal/start/", renewal.renewal_start, name="renewal_start"),
    path(ROW + "renewal/answer/", renewal.renewal_answer, name="renewal_answer"),
    path(ROW + "renewal/decide/", renewal.renewal_decide, name="renewal_decide"),
    # Approval settings and the decision log (views/settings.py, views/decisions.py).
    path("settings/approvals/", settings.approval_settings, name="settings"),
    # Required evidence per tier and data class (views/evidence_rules.py).
    path("settings/evidence/", evidence_rules.evidence_rules, name="evidence_rules"),
    path("settings/evidence/reset/", evidence_rules.evidence_rules_reset,
         name="evidence_rules_reset"),
    path("decisions/", decisions.decision_log, name="decision_log"),
    # Findings: the list, one finding and its actions, the project page's fragment
    # (views/findings.py).
    path("findings/", findings.finding_list, name="finding_list"),
    path("findings/<uuid:public_id>/", findings.finding_detail, name="finding_detail"),
    path("findings/<uuid:public_id>/acknowledge/", findings.finding_acknowledge_view,
         name="finding_acknowledge"),
    path("findings/<uuid:public_id>/resolve/", findings.finding_resolve_view,
         name="finding_resolve"),
    path("findings/<uuid:public_id>/assign/", findings.finding_assign_view,
         name="finding_assign"),
    path("findings/projects/<uuid:public_id>/", findings.project_monitor,
         name="project_monitor"),
    # What waits for you, loaded into the org dashboard (views/dashboard.py).
    path("waiting/", dashboard.attention, name="attention"),
]
