"""Gates a row must pass before it moves on, read from the evidence checklist
(approvals/checklist.py). Kept apart from the services so the workflow asks one question."""

from approvals.checklist import row_checklist
from approvals.models import PolicyRow
from evidence.models import EvidenceItem

STEPS = ("testing", "evidence")


def required_evidence_missing(row: PolicyRow, *, step: str, today=None) -> list[str]:
    """What still blocks `row` from leaving `step`, one line per control, [] when nothing
    does. "testing" (row_start_evidence): a passed route smoke test per allowed action.
    "evidence" (row_send_to_review, and again at activation): every required control.
    A control blocks when its evidence is missing, rejected or expired; pending evidence
    counts as present (docs/approvals.md "Evidence"). Rows outside production require
    nothing by default. One query (the row's evidence links)."""
    if step not in STEPS:
        raise ValueError(f"Unknown gate step {step!r}")
    lines = row_checklist(row, today=today).blocking
    if step == "testing":
        lines = [line for line in lines if line.kind == EvidenceItem.Kind.SMOKE_TEST]
    return [line.problem for line in lines]
