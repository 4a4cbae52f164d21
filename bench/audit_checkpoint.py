"""Cost of signing and verifying audit checkpoints on a long chain.

    .venv/bin/python bench/audit_checkpoint.py [N]     (DATABASE_URL picks the database)

Writes N events in one org (one transaction each), then times: the first checkpoint
(walks all N events before signing), a checkpoint after 100 more events (walks only
those), the full verification (chain walk plus every checkpoint, as verify_audit_chain
does) and the bare chain walk. Uses a throwaway key and checkpoint file.
"""

import base64
import os
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

os.environ["AUDIT_SIGNING_KEY"] = base64.b64encode(
    Ed25519PrivateKey.generate().private_bytes_raw()).decode()
os.environ["AUDIT_CHECKPOINT_FILE"] = str(Path(tempfile.mkdtemp()) / "checkpoints.jsonl")

from _setup import report, test_database  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10000


def timed(func):
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


with test_database() as vendor:
    from django.db import transaction

    from orgs.audit import audit_checkpoint_create, audit_problems, chain_problem, record_event
    from orgs.models import Organization

    org = Organization.objects.create(name="Bench", slug="bench")

    def write(n):
        for i in range(n):
            with transaction.atomic():
                record_event(org=org, actor=None, action="bench.event", changes={"i": [None, i]})

    def sign():
        with transaction.atomic():
            assert audit_checkpoint_create(org=org) is not None

    write(N)
    first = timed(sign)
    write(100)
    incremental = timed(sign)
    verify = timed(lambda: audit_problems(org) == [] or sys.exit("did not verify"))
    walk = timed(lambda: chain_problem(org))
    print(f"database: {vendor}, {N + 100} events")
    report([(f"first checkpoint (walks {N})", 1, first),
            ("next checkpoint (walks 100)", 1, incremental),
            ("verify chain + checkpoints", 1, verify),
            ("bare chain walk", 1, walk)])
