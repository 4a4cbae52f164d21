"""Cost of the hash-chained audit append against a plain insert of the same row.

    .venv/bin/python bench/audit_append.py [N]      (DATABASE_URL picks the database)

Both sides run one transaction per event. The baseline inserts an AuditEvent with a
precomputed hash and no chain head lock; the measured side is record_event(), which
locks the org's chain head, hashes the content and moves the head.
"""

import sys
import time

from _setup import report, test_database

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000

with test_database() as vendor:
    from django.db import transaction
    from django.utils import timezone

    from orgs.audit import GENESIS_HASH, AuditChainHead, AuditEvent, record_event
    from orgs.models import Organization

    org = Organization.objects.create(name="Bench", slug="bench")
    AuditChainHead.objects.create(org=org)
    base_org = Organization.objects.create(name="Base", slug="base")

    start = time.perf_counter()
    for i in range(N):
        with transaction.atomic():
            AuditEvent(org=base_org, seq=i + 1, action="bench.plain", created_at=timezone.now(),
                       prev_hash=GENESIS_HASH, hash=GENESIS_HASH, changes={"i": [None, i]}).save()
    plain = time.perf_counter() - start

    start = time.perf_counter()
    for i in range(N):
        with transaction.atomic():
            record_event(org=org, actor=None, action="bench.chained", changes={"i": [None, i]})
    chained = time.perf_counter() - start

    print(f"database: {vendor}")
    report([("baseline: plain insert", N, plain), ("record_event (chained)", N, chained)])
    print(f"overhead of the chain: {chained / plain:.2f}x the plain insert")
