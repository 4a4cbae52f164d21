"""Credential resolution (projects.credentials.resolve_credential), the decision service's
hot path, against baselines measured in the same run.

    .venv/bin/python bench/credentials.py [N]   (DATABASE_URL and CACHE_URL pick the servers)

Rows: a plain dict lookup of the HMAC (the floor of any in-process cache), the indexed
database lookup alone, then resolve_credential on a cached hit (no query: one read of the
shared generation counter from the cache), on a cached miss (the local cache dropped before
each call: the counter read plus one indexed query with joins), and on an unknown secret
that is cached as unknown.
"""

import sys
import time

from _setup import report, test_database

N = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
N_MISS = max(N // 10, 100)

with test_database() as vendor:
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from orgs.models import User
    from orgs.services import org_create
    from projects.credentials import clear_local_cache, resolve_credential
    from projects.keys import key_create
    from projects.models import ApiKey, Caller
    from projects.secrets import TEST, hash_secret, new_secret
    from projects.services import project_create

    owner_user = User.objects.create_user("owner@bench.test", "x")
    org = org_create(user=owner_user, name="Bench", slug="bench")
    owner = org.memberships.get()
    project = project_create(org=org, actor=owner, name="Bench", slug="bench")
    environment = project.environments.get(tier="production")
    caller = Caller.objects.create(org=org, project=project, name="svc",
                                   kind=Caller.Kind.PRODUCTION_SERVICE, owner=owner)
    key, secret = key_create(org=org, actor=owner, project=project, environment=environment,
                             caller=caller, name="bench")
    unknown = new_secret(TEST)
    table = {hash_secret(secret): key}

    def timed(label, n, fn, setup=None):
        fn()  # warm up
        start = time.perf_counter()
        for _ in range(n):
            if setup:
                setup()
            fn()
        return label, n, time.perf_counter() - start

    def queries(fn):
        with CaptureQueriesContext(connection) as captured:
            fn()
        return len(captured)

    resolve_credential(secret)  # first use writes last_used_at once
    hit_queries = queries(lambda: resolve_credential(secret))
    clear_local_cache()
    miss_queries = queries(lambda: resolve_credential(secret))
    rows = [
        timed("baseline: dict lookup of the HMAC", N, lambda: table.get(hash_secret(secret))),
        timed("baseline: indexed DB lookup alone", N_MISS,
              lambda: ApiKey.objects.filter(secret_hash=hash_secret(secret)).first()),
        timed(f"resolve: cached hit ({hit_queries} queries)", N,
              lambda: resolve_credential(secret, environment=environment)),
        timed(f"resolve: cached miss ({miss_queries} query)", N_MISS,
              lambda: resolve_credential(secret), setup=clear_local_cache),
        timed("resolve: unknown secret, cached", N, lambda: resolve_credential(unknown)),
    ]
    print(f"database: {vendor}; cache: {settings.CACHES['default']['BACKEND'].rsplit('.', 1)[1]}")
    report(rows)
    assert hit_queries == 0 and miss_queries == 1, (hit_queries, miss_queries)
    print(f"cached hit is {rows[3][2] / rows[3][1] / (rows[2][2] / rows[2][1]):.1f}x faster "
          f"than a cached miss")
