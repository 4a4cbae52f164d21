"""A revocation or suspension made here reaches a decision worker in another OS process on
its very next decision, through the shared per-org version counter."""


import pytest

from approvals.models import PolicyRow
from approvals.services import row_resume, row_revoke, row_suspend
from tests.components import DjangoProcess, require_shared_cache

# Runs in the second process: one decision per secret read from stdin, one JSON line out.
DECIDER = """
import json, sys
import django
django.setup()
from django.db import connection
from django.test.utils import CaptureQueriesContext
from approvals.decisions.service import Query, decide
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    with CaptureQueriesContext(connection) as queries:
        _, [decision] = decide(line.strip(), [Query("gpt-chat", "chat", "internal",
                                                    "production")])
    print(json.dumps({"allow": decision.allow, "reason": decision.reasons[0],
                      "queries": len(queries)}), flush=True)
"""


@pytest.fixture
def decider(transactional_db):
    require_shared_cache()
    process = DjangoProcess(DECIDER, name="decider")
    yield process
    process.stop()


@pytest.mark.django_db(transaction=True)
def test_suspend_resume_and_revoke_reach_another_process_on_its_next_decision(
        org_a, people, secret, live_row, decider):
    row = live_row()
    first = decider.ask(secret)
    assert first["allow"] and first["queries"] > 0
    # Cached there now: neither the credential nor the index costs a query.
    assert decider.ask(secret) == {"allow": True, "reason": "allow", "queries": 0}

    row_suspend(org=org_a, actor=people["security"], row=row, reason="incident")
    assert decider.ask(secret) == {"allow": False, "reason": "row_suspended", "queries": 6}
    assert decider.ask(secret)["queries"] == 0

    row_resume(org=org_a, actor=people["security"], row=PolicyRow.objects.get(pk=row.pk))
    assert decider.ask(secret)["allow"]

    row_revoke(org=org_a, actor=people["security"], row=PolicyRow.objects.get(pk=row.pk),
               reason="confirmed")
    assert decider.ask(secret) == {"allow": False, "reason": "row_revoked", "queries": 6}
