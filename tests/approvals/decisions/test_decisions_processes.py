"""A revocation or suspension made here reaches a decision worker in another OS process on
its very next decision, through the shared per-org version counter."""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings

from approvals.models import PolicyRow
from approvals.services import row_resume, row_revoke, row_suspend
from tests.components import _test_database_url
from tests.projects.test_credentials import _require_shared_cache

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


class Decider:
    def __init__(self):
        env = {**os.environ, "DATABASE_URL": _test_database_url(), "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-c", DECIDER], cwd=settings.BASE_DIR, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert self._read() == {"ready": True}

    def _read(self):
        line = self.process.stdout.readline()
        if not line:
            pytest.fail(f"The decider process died: {self.process.stderr.read()[-3000:]}")
        return json.loads(line)

    def decide(self, secret):
        self.process.stdin.write(secret + "\n")
        self.process.stdin.flush()
        return self._read()

    def stop(self):
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def decider(transactional_db):
    _require_shared_cache()
    process = Decider()
    yield process
    process.stop()


@pytest.mark.django_db(transaction=True)
def test_suspend_resume_and_revoke_reach_another_process_on_its_next_decision(
        org_a, people, secret, live_row, decider):
    row = live_row()
    first = decider.decide(secret)
    assert first["allow"] and first["queries"] > 0
    # Cached there now: neither the credential nor the index costs a query.
    assert decider.decide(secret) == {"allow": True, "reason": "allow", "queries": 0}

    row_suspend(org=org_a, actor=people["security"], row=row, reason="incident")
    assert decider.decide(secret) == {"allow": False, "reason": "row_suspended", "queries": 4}
    assert decider.decide(secret)["queries"] == 0

    row_resume(org=org_a, actor=people["security"], row=PolicyRow.objects.get(pk=row.pk))
    assert decider.decide(secret)["allow"]

    row_revoke(org=org_a, actor=people["security"], row=PolicyRow.objects.get(pk=row.pk),
               reason="confirmed")
    assert decider.decide(secret) == {"allow": False, "reason": "row_revoked", "queries": 4}
