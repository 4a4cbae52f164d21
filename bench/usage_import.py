"""Usage import: 1,000,000 generated LiteLLM spend-log lines (CSV) imported through the
service's bulk path on PostgreSQL, side by side with a raw COPY of the same file into a
bare table in the same run.

    DATABASE_URL=postgres://... .venv/bin/python bench/usage_import.py [--lines N]
        [--reimport]

The import is the real one (evidence.usage.services.usage_import_stream): CSV parsed and
every line validated as a stream, attribution to 20 projects/keys/environments/callers,
COPY of checked chunks into a temporary table, then one INSERT ... SELECT ... ON
CONFLICT DO NOTHING into usagerecord (its unique constraint, 9 indexes and foreign keys)
with the audit and notification events, in one transaction. The baseline is
`COPY bare FROM STDIN (FORMAT csv, HEADER)` of the same bytes into a table of the file's
columns without constraints or indexes. Goal (issue #7): >= 0.3 x the COPY's rows/s.
Peak memory is the process's maximum resident set (getrusage), before and after the
import; the file is generated and read as a stream, so it does not grow with --lines.
--reimport imports the same file again (every line a duplicate).
"""

import argparse
import csv
import json
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _setup import test_database

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--lines", type=int, default=1_000_000)
parser.add_argument("--reimport", action="store_true")
ARGS = parser.parse_args()

COLUMNS = ["request_id", "call_type", "api_key", "spend", "total_tokens", "prompt_tokens",
           "completion_tokens", "startTime", "endTime", "model", "model_group",
           "custom_llm_provider", "user", "end_user", "team_id", "metadata", "status"]
BARE = """CREATE TABLE bench_bare_spendlogs (
    request_id text, call_type text, api_key text, spend numeric, total_tokens integer,
    prompt_tokens integer, completion_tokens integer, "startTime" timestamptz,
    "endTime" timestamptz, model text, model_group text, custom_llm_provider text,
    "user" text, end_user text, team_id text, metadata text, status text)"""
MODELS = ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "text-embedding-3-small"]
TEAMS = 20


def max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def generate(path: Path, lines: int, prefixes: list[str]) -> None:
    """Spend-log rows as LiteLLM's table holds them; metadata names the key alias, team
    alias and environment, so every line resolves (one in 50 names an unknown team)."""
    start = datetime(2026, 11, 1, tzinfo=UTC)
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for n in range(lines):
            team = n % TEAMS
            at = start + timedelta(seconds=n * 2)
            meta = json.dumps({"user_api_key_alias": prefixes[team],
                               "user_api_key_team_alias": f"team-{team}" if n % 50 else "ghost",
                               "environment": "production"})
            prompt, completion = 200 + n % 1000, 50 + n % 300
            writer.writerow([
                f"chatcmpl-{n:012d}", "acompletion", f"{n % 997:064x}",
                f"{(prompt * 2.5 + completion * 10) / 1e6:.8f}", prompt + completion, prompt,
                completion, at.isoformat(), (at + timedelta(milliseconds=800)).isoformat(),
                MODELS[n % 4], MODELS[n % 4], "openai", "", f"service-{team}", f"t{team}",
                meta, "success"])


def setup_org():
    from evidence.models import UsageImport  # noqa: F401  (apps loaded)
    from orgs.models import Membership, User
    from orgs.services import org_create
    from projects.models import ApiKey, Caller, Environment, Project

    user = User.objects.create_user("owner@bench.test", "x")
    org = org_create(user=user, name="Bench", slug="bench")
    owner = Membership.objects.get(org=org, user=user)
    prefixes = []
    for team in range(TEAMS):
        project = Project.objects.create(org=org, name=f"Team {team}", slug=f"team-{team}")
        env = Environment.objects.create(org=org, project=project, name="production",
                                         tier="production")
        caller = Caller.objects.create(org=org, project=project, name=f"service-{team}",
                                       kind="production_service", owner=owner)
        prefix = f"gvk_live_bench{team:04d}"
        ApiKey.objects.create(org=org, project=project, environment=env, caller=caller,
                              name=f"key {team}", prefix=prefix, secret_hash=f"{team:064x}",
                              expires_at=datetime(2030, 1, 1, tzinfo=UTC))
        prefixes.append(prefix)
    return org, owner, prefixes


def raw_copy(path: Path) -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(BARE)
        started = time.perf_counter()
        with path.open("rb") as source, cursor.copy(
                "COPY bench_bare_spendlogs FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
            while chunk := source.read(1 << 20):
                copy.write(chunk)
        return time.perf_counter() - started


def service_import(org, owner, path: Path):
    from evidence.models import UsageImport
    from evidence.usage.services import usage_import_stream

    job = UsageImport.objects.create(org=org, kind="usage", source="litellm",
                                     source_ref=path.name, created_by=owner)
    started = time.perf_counter()
    with path.open("rb") as stream:
        usage_import_stream(org=org, actor=owner, job=job, stream=stream,
                            size=path.stat().st_size)
    elapsed = time.perf_counter() - started
    job.refresh_from_db()
    return elapsed, job


with test_database() as vendor, tempfile.TemporaryDirectory() as tmp:
    if vendor != "postgresql":
        raise SystemExit("The bulk path under test is PostgreSQL's: set DATABASE_URL.")
    org, owner, prefixes = setup_org()
    path = Path(tmp) / "spendlogs.csv"
    started = time.perf_counter()
    generate(path, ARGS.lines, prefixes)
    print(f"generated {ARGS.lines:,} LiteLLM spend-log lines "
          f"({path.stat().st_size / 2**20:.1f} MiB) in {time.perf_counter() - started:.1f} s")
    copy_seconds = raw_copy(path)
    rss_before = max_rss_mib()
    import_seconds, job = service_import(org, owner, path)
    rss_after = max_rss_mib()
    assert job.status == "succeeded" and job.report["lines"] == ARGS.lines, job.report
    copy_rate, import_rate = ARGS.lines / copy_seconds, ARGS.lines / import_seconds
    rows = [("raw COPY into a bare table", copy_seconds, copy_rate),
            ("usage import (parse, check, attribute, COPY stage, INSERT ... ON CONFLICT)",
             import_seconds, import_rate)]
    if ARGS.reimport:
        again_seconds, again = service_import(org, owner, path)
        assert again.report["added"] == 0, again.report
        rows.append(("re-import of the same file (all duplicates)", again_seconds,
                     ARGS.lines / again_seconds))
    width = max(len(r[0]) for r in rows)
    print(f"database: {vendor}, {ARGS.lines:,} lines")
    for name, seconds, rate in rows:
        print(f"{name:<{width}}  {seconds:8.2f} s  {rate:12,.0f} rows/s")
    ratio = import_rate / copy_rate
    print(f"import / COPY: {ratio:.2f} x (goal >= 0.3 x: {'met' if ratio >= 0.3 else 'MISSED'})")
    print(f"added {job.report['added']:,}, duplicates {job.report['duplicates']:,}")
    print(f"peak RSS: {rss_before:.0f} MiB before the import, {rss_after:.0f} MiB after")
