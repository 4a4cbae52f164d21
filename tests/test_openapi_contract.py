"""The OpenAPI contract: schemathesis drives every operation of /api/v1/schema/ against a
live server holding the demo organization, as its owner, and fails on any server error
and on any answer the schema does not describe (status code, content type, body).

Design: one seeded org for the whole run; destructive operations are pointed at spare
objects (tests/contract/seed.py), so the order schemathesis picks never matters. Every
outbound connection of the server goes nowhere but loopback (tests/netguard.py): fuzzed
webhook URLs, catalog URLs and IdP issuers are refused as the unreachable hosts they are.
Writes are bounded by the number of examples, and mail goes to the in-memory outbox.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from tests import netguard
from tests.contract.seed import seed

ROOT = Path(__file__).resolve().parent.parent
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance")
SEED = 20261203
# Fuzzed cases per operation, on top of the examples and coverage phases' own cases.
MAX_EXAMPLES = int(os.environ.get("CONTRACT_MAX_EXAMPLES", "5"))
# One worker: the same seed makes the same calls in the same order. With two, concurrent
# writes found an audit-chain deadlock and a read-then-delete race (both 500s, reported to
# their owners); CONTRACT_WORKERS=2 runs it that way.
WORKERS = os.environ.get("CONTRACT_WORKERS", "1")


def schemathesis_run(base_url: str, seed_file: Path,
                     report: Path) -> subprocess.CompletedProcess:
    """The CLI as a developer runs it (docs/api.md), with the hooks of tests/contract."""
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.contract.hooks",
           "CONTRACT_SEED": str(seed_file), "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable, "-m", "schemathesis.cli",
        "--config-file", str(ROOT / "tests" / "contract" / "schemathesis.toml"),
        "run", f"{base_url}/api/v1/schema/",
        "--checks", CHECKS, "--phases", "examples,coverage,fuzzing",
        "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED), "--workers", WORKERS,
        "--no-color", "--report", "junit", "--report-junit-path", str(report),
        "--request-timeout", "30",
    ]
    # In the report folder: schemathesis keeps a cache of past failures where it runs.
    return subprocess.run(command, env=env, cwd=report.parent, capture_output=True, text=True,
                          timeout=900, check=False)


def operations(schema: dict) -> set[str]:
    return {f"{method.upper()} {path}" for path, item in schema["paths"].items()
            for method in item if method in ("get", "post", "put", "patch", "delete")}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_every_operation_keeps_the_openapi_contract(live_server, monkeypatch, tmp_path,
                                                     settings):
    netguard.install(monkeypatch)
    # Names the app saves (an issuer, a gateway) resolve to a public address without DNS,
    # so the outbound policy accepts them; any connection to it is refused by the guard.
    netguard.resolve_names_publicly(monkeypatch)
    settings.CELERY_TASK_ALWAYS_EAGER = True
    data = seed()
    out = Path(os.environ.get("CONTRACT_REPORT_DIR", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    seed_file = out / "seed.json"
    seed_file.write_text(json.dumps(data))
    started = time.monotonic()
    result = schemathesis_run(live_server.url, seed_file, out / "junit.xml")
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    (out / "schemathesis.txt").write_text(output)
    print(output[-3000:], f"\nschemathesis took {elapsed:.0f} s")
    # The failures section names each operation, check, request and response.
    failures = output[output.find("FAILURES"):output.find("SUMMARY")] or output
    assert result.returncode == 0, failures[:60000] + output[output.find("SUMMARY"):]
    # Every operation of the served schema was exercised, none skipped or errored.
    schema = yaml.safe_load(requests.get(f"{live_server.url}/api/v1/schema/",
                                         timeout=30).text)
    report = (out / "junit.xml").read_text()
    missing = [op for op in operations(schema) if f'name="{op}"' not in report]
    assert not missing, missing
