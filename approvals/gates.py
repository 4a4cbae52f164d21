"""Gates a row must pass before it moves on. Kept apart from the services so that the
evidence checklist (issues #6 and #7) can fill them in without touching the workflow."""

from approvals.models import PolicyRow


def required_evidence_missing(row: PolicyRow, *, step: str) -> list[str]:
    """The required evidence still missing before `row` may leave `step` ("testing": the
    smoke-test runs for each allowed action; "evidence": the evidence pack).

    Not built yet: smoke-test runs and evidence items arrive with the evidence checklist
    and gate (#6 / #7). Until then this checks nothing and returns no missing items; the
    services already call it and refuse the move when it names anything, so the gate
    becomes real by filling in this one function.
    """
    return []
