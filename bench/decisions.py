"""The decision service (approvals.decisions) on a matrix of 10,000 rows over 50 projects,
against baselines measured in the same run.

    .venv/bin/python bench/decisions.py [N]   (DATABASE_URL and CACHE_URL pick the servers)

Rows: a plain dict lookup (the floor of any in-process index), the compiled engine alone
on a mix of requests (allows, denies, deny-rule hits; goal <= 10 µs per decision), the
plain reference evaluator on the same requests (what the engine replaces), one index
rebuild from the database (what each process pays once after a change), and decide() end
to end in-process (credential cache hit + one version read from the cache + engine).
HTTP under gunicorn is not measured here (see docs/gateway-integration.md).
"""

import random
import sys
import time
from datetime import timedelta
from decimal import Decimal

from _setup import test_database

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
PROJECTS, ROWS = 50, 10_000


def line(label, n, seconds):
    print(f"{label:<58} {n:>7} ops  {seconds * 1e6 / n:9.2f} µs/op  {n / seconds:12.0f} ops/s")


with test_database() as vendor:
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from approvals.decisions import reference
    from approvals.decisions.engine import Request, evaluate
    from approvals.decisions.loader import load_index
    from approvals.decisions.service import Query, decide
    from approvals.models import DenyRule, PolicyRow
    from evidence.models import CatalogEntry, CatalogSnapshot
    from orgs.models import User
    from orgs.services import org_create
    from projects.keys import key_create
    from projects.models import Caller
    from projects.services import project_create

    rng = random.Random(6)
    user = User.objects.create_user("owner@bench.test", "x")
    org = org_create(user=user, name="Bench", slug="bench")
    owner = org.memberships.get()
    snapshot = CatalogSnapshot.objects.create(org=org, source_name="bench", format="litellm",
                                              source_ref="bench.json", sha256="b" * 64,
                                              snapshot_date=timezone.localdate())
    entries = CatalogEntry.objects.bulk_create([
        CatalogEntry(org=org, snapshot=snapshot, key=f"openai/model-{i}", platform="openai",
                     vendor="openai", model_id=f"model-{i}", family="chat_completions",
                     families="|chat_completions|", availability="available")
        for i in range(200)])
    scopes = []  # (project, environment, caller)
    for p in range(PROJECTS):
        project = project_create(org=org, actor=owner, name=f"P{p}", slug=f"p{p}")
        for environment in project.environments.all():
            for c in range(4):
                caller = Caller.objects.create(
                    org=org, project=project, name=f"c{c}-{environment.name}",
                    kind=Caller.Kind.PRODUCTION_SERVICE, owner=owner)
                scopes.append((project, environment, caller))
    now = timezone.now()
    actions = ["chat", "chat_stream", "embeddings", "responses"]
    classes = ["public", "internal", "customer_pii", "source_code"]
    statuses = ["active"] * 8 + ["suspended", "renewal_due"]
    rows = PolicyRow.objects.bulk_create([
        PolicyRow(org=org, project=scope[0], environment=scope[1], caller=scope[2],
                  allowed_actions=rng.sample(actions, 2), data_classes=rng.sample(classes, 2),
                  business_reason="bench", monthly_budget=Decimal(1000),
                  daily_cap=Decimal(100), status=rng.choice(statuses),
                  renewal_date=now.date() + timedelta(days=60),
                  activated_at=now - timedelta(days=1))
        for scope in (rng.choice(scopes) for _ in range(ROWS))])
    through = PolicyRow.approved_models.through
    through.objects.bulk_create([through(policyrow_id=row.pk, catalogentry_id=entry.pk)
                                 for row in rows for entry in rng.sample(entries, 3)])
    for i in range(5):
        DenyRule.objects.create(org=org, model_id=f"model-{i}", reason="bench deny")

    start = time.perf_counter()
    with CaptureQueriesContext(connection) as captured:
        index = load_index(org.pk, version=1)
    rebuild = time.perf_counter() - start
    rebuild_queries = len(captured)

    requests_ = []
    for _ in range(1000):
        project, environment, caller = rng.choice(scopes)
        requests_.append(Request(project.pk, environment.pk, caller.pk, "api_key", "k",
                                 f"model-{rng.randrange(200)}", rng.choice(actions),
                                 rng.choice(classes)))
    # A third aimed at rows that exist, so allows are common.
    for row in rng.sample(rows, 500):
        requests_.append(Request(row.project_id, row.environment_id, row.caller_id, "api_key",
                                 "k", rng.choice(sorted(index.rows[str(row.public_id)][1])),
                                 row.allowed_actions[0], row.data_classes[0]))
    rng.shuffle(requests_)
    allowed = sum(evaluate(index, r, now).allow for r in requests_)

    buckets = index.buckets
    keys = [(r.caller, r.environment, r.action, r.data_class) for r in requests_]
    m = len(requests_)

    def loop(fn, n):
        start = time.perf_counter()
        for i in range(n):
            fn(i % m)
        return time.perf_counter() - start

    print(f"database: {vendor}; cache: {settings.CACHES['default']['BACKEND'].rsplit('.', 1)[1]}"
          f"; {ROWS} rows over {PROJECTS} projects, {len(scopes)} callers, "
          f"{len(index.rules)} deny rules; {allowed} of {m} requests allowed")
    line("baseline: dict lookup of the bucket", N, loop(lambda i: buckets.get(keys[i]), N))
    engine_seconds = loop(lambda i: evaluate(index, requests_[i], now), N)
    line("engine: evaluate() on the compiled index", N, engine_seconds)
    facts = [row for row, _ in index.rows.values()]
    rules = [rule.fact for rule in index.rules]
    n_ref = 200
    line("baseline: reference evaluator (plain lists)", n_ref,
         loop(lambda i: reference.evaluate(facts, rules, index.spend, requests_[i], now), n_ref))
    line(f"index rebuild from the database ({rebuild_queries} queries)", 1, rebuild)

    row = next(r for r in rows if r.status == "active")
    _, secret = key_create(org=org, actor=owner, project=row.project,
                           environment=row.environment, caller=row.caller, name="bench")
    model = sorted(index.rows[str(row.public_id)][1])[0]
    query = [Query(model, row.allowed_actions[0], row.data_classes[0], row.environment.name)]
    decide(secret, query)  # fills the credential cache and this process's index
    with CaptureQueriesContext(connection) as captured:
        org_seen, [decision] = decide(secret, query)
    n_full = max(N // 10, 1000)
    line(f"decide() in-process, cached ({len(captured)} queries)", n_full,
         loop(lambda i: decide(secret, query), n_full))
    per = engine_seconds * 1e6 / N
    print(f"engine: {per:.2f} µs per decision ({'within' if per <= 10 else 'OVER'} the "
          f"10 µs goal)")
    assert decision.allow and len(captured) == 0, (decision, len(captured))
