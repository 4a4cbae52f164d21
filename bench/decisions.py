"""The decision service (approvals.decisions) on a matrix of 10,000 rows over 50 projects,
against baselines measured in the same run.

    .venv/bin/python bench/decisions.py [N]   (DATABASE_URL and CACHE_URL pick the servers)

Rows: a plain dict lookup (the floor of any in-process index), the compiled engine alone
on a mix of requests (allows, denies, deny-rule hits; goal <= 10 µs per decision), the
plain reference evaluator on the same requests (what the engine replaces), one index
rebuild from the database (what each process pays once after a change), and decide() end
to end in-process (credential cache hit + one version read from the cache + engine).

Then HTTP (PostgreSQL only): gunicorn with the production settings (DEBUG off) on a free
127.0.0.1 port serves both POST /api/v1/decisions and a bare Django JSON view
(bench/bare_urls.py); wrk drives each at concurrency 16 (after a short warm-up) and the
bench prints requests/s, p50 and p99 side by side, the ratio and the goals (>= 0.8 x the
bare view's throughput, p99 <= 15 ms). The decision log is left at the default (sampled,
10 %), so its buffer is part of the cost. BENCH_SECONDS (10), BENCH_WORKERS (2) and
BENCH_THREADS (4) and BENCH_WARMUP (5 s) tune the run.
"""

import os
import random
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from _setup import test_database

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
PROJECTS, ROWS = 50, 10_000
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "5"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
THREADS = int(os.environ.get("BENCH_THREADS", "4"))


def line(label, n, seconds):
    print(f"{label:<58} {n:>7} ops  {seconds * 1e6 / n:9.2f} µs/op  {n / seconds:12.0f} ops/s")


def http_env(test_database_name: str) -> dict:
    """The production settings for gunicorn, on the bench's test database."""
    from urllib.parse import urlsplit, urlunsplit

    database = urlsplit(os.environ["DATABASE_URL"])._replace(path="/" + test_database_name)
    cache = os.environ.get("CACHE_URL", "")
    if not cache.startswith("redis"):
        cache = "redis://127.0.0.1:6379/0"  # every worker must share one cache
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.http_settings", "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "false",
            "DATABASE_URL": urlunsplit(database), "CACHE_URL": cache,
            "CACHE_KEY_PREFIX": f"bench{os.getpid()}", "DECISION_LOG_FLUSH_THREAD": "true"}


def http_row(label, r):
    errors = f"{r['errors']} non-2xx" + (f", {r['socket_errors']}" if r["socket_errors"] else "")
    print(f"{label:<44} {r['rps']:9.0f} req/s  p50 {r['p50']:6.2f} ms  p99 {r['p99']:6.2f} ms"
          f"  ({r['requests']} requests, {errors})")


def http_part(vendor, secret, body):
    """gunicorn + wrk: the real decision endpoint beside a bare Django JSON view."""
    import _http
    from django.db import connection

    from approvals.models import DecisionRecord

    if vendor != "postgresql":
        print("HTTP: skipped (needs DATABASE_URL on PostgreSQL)")
        return
    wrk = _http.ensure_wrk()
    log = Path(tempfile.mkdtemp()) / "gunicorn.log"
    process, base = _http.start_gunicorn(http_env(connection.settings_dict["NAME"]),
                                         workers=WORKERS, threads=THREADS, log=log)
    auth = {"Authorization": f"Bearer {secret}"}
    targets = [("bare Django JSON view (POST /bench/bare)", f"{base}/bench/bare", {}),
               ("decision service (POST /api/v1/decisions)", f"{base}/api/v1/decisions", auth)]
    results, warm = {}, {}
    before = DecisionRecord.objects.count()  # the in-process part's sample
    try:
        answer = _http.wait_ready(process, targets[1][1], body, auth, log)
        assert answer["decision"] == "allow", answer
        for label, url, headers in targets:
            # Warm-up: every worker process builds its index of 10,000 rows (about 1.6 s
            # each, both at once on two cores) and fills its credential cache.
            warm[label] = _http.run_wrk(wrk, url, body, headers, seconds=WARMUP)
            results[label] = _http.run_wrk(wrk, url, body, headers, seconds=SECONDS)
    finally:
        _http.stop(process)
    time.sleep(1)  # let PostgreSQL notice the workers' connections closing
    print(f"HTTP: gunicorn {WORKERS} gthread workers x {THREADS} threads, production "
          f"settings (DEBUG off), PostgreSQL, Redis cache; wrk -t2 -c16, {SECONDS} s each; "
          f"decision log at the default (sampled 10 %)")
    for label, r in results.items():
        http_row(label, r)
    bare, real = results[targets[0][0]], results[targets[1][0]]
    ratio = real["rps"] / bare["rps"]
    print(f"decision service: {ratio:.2f} x the bare view's throughput "
          f"({'within' if ratio >= 0.8 else 'BELOW'} the 0.8 goal); p99 {real['p99']:.2f} ms "
          f"({'within' if real['p99'] <= 15 else 'OVER'} the 15 ms goal)")
    logged = DecisionRecord.objects.count() - before
    decided = real["requests"] + warm[targets[1][0]]["requests"] + 1
    print(f"decision log: the workers' buffers wrote {logged} records for {decided} "
          f"decisions ({logged / decided:.1%}; sampled at 10 %)")


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

    from approvals.decisions import log as decision_log

    # This process's flush thread holds a connection to the test database: end it now.
    decision_log.buffer.stop()
    body = {"model": model, "action": query[0].action, "data_class": query[0].data_class,
            "environment": query[0].environment}
    http_part(vendor, secret, body)
