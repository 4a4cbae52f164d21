"""Catalog import and diff on the real LiteLLM snapshots, with baselines in the same run.

    DATABASE_URL=postgres://... .venv/bin/python bench/catalog.py [REPEAT]

Goals (issue #5): import of the newest full LiteLLM map <= 2 s, diff against the older
one <= 1 s, on PostgreSQL. Baselines: json.load of the file alone, and a plain
bulk_create of the same number of rows with constant values (no parsing, no mapping).
Each figure is the best of REPEAT runs (default 3); peak memory is from tracemalloc over
one run (Python allocations only, with tracemalloc's own slowdown not in the timings).
"""

import sys
import time
import tracemalloc
from pathlib import Path

from _setup import test_database

REPEAT = int(sys.argv[1]) if len(sys.argv) > 1 else 3
DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
NEW = DATA / "litellm-model-catalog-2026-11-12-v1.109.1.json"
OLD = DATA / "litellm-model-catalog-2026-05-17-v1.85.0.json"


def measure(fn):
    """(best seconds of REPEAT runs, peak MiB of one traced run)."""
    best = float("inf")
    for _ in range(REPEAT):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return best, peak / 2**20


with test_database() as vendor:
    import json

    from django.db import transaction

    from evidence.catalog import catalog_import
    from evidence.diff import catalog_diff
    from evidence.models import CatalogEntry, CatalogSnapshot
    from orgs.models import User
    from orgs.services import org_create

    owner = User.objects.create_user("owner@bench.test", "x")
    new_bytes, old_bytes = NEW.read_bytes(), OLD.read_bytes()
    state = {"n": 0}

    def fresh_org():
        state["n"] += 1
        return org_create(user=owner, name=f"Bench {state['n']}", slug=f"bench-{state['n']}")

    def import_new():
        # A fresh org each time: the same file twice in one org is refused by design.
        org = fresh_org()
        state["snapshot"] = catalog_import(org=org, actor=None, data=new_bytes,
                                           format="litellm", source_ref=NEW.name)
        state["org"] = org

    def plain_bulk_insert():
        org = fresh_org()
        with transaction.atomic():
            snap = CatalogSnapshot.objects.create(org=org, source_name="x", format="litellm",
                                                  source_ref="x", sha256=f"{state['n']:064}",
                                                  snapshot_date="2026-11-12")
            CatalogEntry.objects.bulk_create(
                (CatalogEntry(org=org, snapshot=snap, key=f"k{i}", platform="p",
                              model_id=f"m{i}", family="chat_completions",
                              families="|chat_completions|", availability="available")
                 for i in range(4541)), batch_size=2000)

    rows = [("baseline: json.load of the newest map", *measure(lambda: json.loads(new_bytes))),
            ("baseline: plain bulk insert of 4,541 rows", *measure(plain_bulk_insert)),
            ("import newest LiteLLM map (4,541 entries)", *measure(import_new))]
    org = state["org"]
    old = catalog_import(org=org, actor=None, data=old_bytes, format="litellm",
                         source_ref=OLD.name)
    new = state["snapshot"]
    result = catalog_diff(org=org, old=old, new=new)
    rows.append(("diff 1.85.0 -> 1.109.1", *measure(
        lambda: catalog_diff(org=org, old=old, new=new))))

    print(f"database: {vendor}, best of {REPEAT}")
    width = max(len(r[0]) for r in rows)
    for name, seconds, peak in rows:
        print(f"{name:<{width}}  {seconds:7.3f} s  peak {peak:7.1f} MiB")
    print("diff counts:", result.counts)
    print(f"goals: import <= 2 s ({'met' if rows[2][1] <= 2 else 'MISSED'}), "
          f"diff <= 1 s ({'met' if rows[3][1] <= 1 else 'MISSED'})")
