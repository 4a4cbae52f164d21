"""Reads for the route smoke tests of a row: the row page's "Smoke tests" section
(templates/approvals/_row_smoke.html) and the run page. Writes are
approvals/services/smoke.py's."""

from django.db.models import Prefetch

from approvals.models import PolicyRow, SmokeResult, SmokeRun
from approvals.permissions import can_run_smoke_tests
from evidence.gateway import gateway_config_get
from orgs.scoping import get_for_org_or_404

RECENT_RUNS = 5


def row_smoke_context(*, row: PolicyRow, actor, error: str = "") -> dict:
    """Template context of the row page's smoke-test section: the latest runs, whether a
    gateway is configured and whether actor may start a run. Two queries whatever the
    number of runs and results (the runs, the gateway)."""
    runs = list(SmokeRun.objects.for_org(row.org_id).filter(row=row)
                .order_by("-created_at")[:RECENT_RUNS])
    return {"smoke_runs": runs, "smoke_gateway": gateway_config_get(org=row.org_id),
            "can_run_smoke": can_run_smoke_tests(actor, row), "smoke_error": error,
            "smoke_active": next((r for r in runs if not r.is_done), None)}


def smoke_run_get(*, org, row: PolicyRow, public_id) -> SmokeRun:
    """One run of this row with its results in position order (two queries); 404 when
    the run is missing, foreign or of another row."""
    qs = SmokeRun.objects.select_related("row", "started_by__user").prefetch_related(
        Prefetch("results", queryset=SmokeResult.objects.order_by("position")))
    return get_for_org_or_404(qs, org, row=row, public_id=public_id)
