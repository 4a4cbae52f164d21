"""Fixtures for real components: a Celery worker process and Chromium.

Loaded by tests/conftest.py (pytest_plugins). A missing component is a failure with a
message saying how to provide it, never a skip: bin/test sets everything up.

Broker isolation. Several test sessions share one Redis (the two xdist workers of a run,
and other people's runs on the same machine). Each session therefore gets its own
kombu `global_keyprefix`: every key and pub/sub channel of this session, the task
queues and the control (ping) channel alike, lives under `governance-test-<id>:`. A
worker started by `celery_worker_process` uses the same prefix, so its tasks, and the
workers that /healthz sees, are this session's only.
"""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from django.conf import settings
from django.db import connection

from governance.celery import app as celery_app

PREFIX_ENV = "GOVERNANCE_TEST_BROKER_PREFIX"
SESSION_PREFIX = f"governance-test-{uuid.uuid4().hex[:12]}:"
WORKER_START_TIMEOUT = 30.0  # seconds until the new worker must answer a ping
WORKER_STOP_TIMEOUT = 15.0  # seconds between SIGTERM and SIGKILL

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Runs the project's Celery app as `celery worker` after applying this session's key
# prefix. Same as `python -m celery -A governance worker ...` otherwise.
_WORKER_MAIN = """
import os, sys
from governance.celery import app
prefix = os.environ.get("GOVERNANCE_TEST_BROKER_PREFIX")
if prefix:
    app.conf.broker_transport_options = {
        **(app.conf.broker_transport_options or {}), "global_keyprefix": prefix}
app.worker_main(["worker", *sys.argv[1:]])
"""


def _broker_scheme() -> str:
    return urlsplit(settings.CELERY_BROKER_URL).scheme


def _uses_redis() -> bool:
    return _broker_scheme() in {"redis", "rediss"}


@pytest.fixture(scope="session", autouse=True)
def _isolated_broker():
    """Give this test session its own namespace on a shared Redis broker."""
    if not _uses_redis():
        yield
        return
    options = dict(celery_app.conf.broker_transport_options or {})
    options["global_keyprefix"] = SESSION_PREFIX
    celery_app.conf.broker_transport_options = options
    yield
    # Leave nothing behind: this session's queues and bindings (best effort).
    try:
        client = redis.Redis.from_url(celery_app.conf.broker_url, socket_timeout=5)
        keys = list(client.scan_iter(match=f"{SESSION_PREFIX}*", count=500))
        if keys:
            client.delete(*keys)
        client.close()
    except Exception as exc:
        print(f"Could not remove this session's Redis keys ({type(exc).__name__})")


class WorkerProcess:
    """A `celery worker` subprocess; stop() ends it by its PID."""

    def __init__(self, *, name: str, queue: str, process: subprocess.Popen, log_path: Path):
        self.name = name
        self.queue = queue
        self.process = process
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def is_running(self) -> bool:
        return self.process.poll() is None

    def answers_ping(self, timeout: float = 0.5) -> bool:
        with celery_app.connection_for_write() as conn:
            replies = celery_app.control.ping(
                destination=[self.name], timeout=timeout, connection=conn
            ) or []
        return any(self.name in reply for reply in replies)

    def stop(self):
        """SIGTERM (warm shutdown), wait, then SIGKILL. Safe to call twice."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=WORKER_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=WORKER_STOP_TIMEOUT)


def _test_database_url() -> str:
    """DATABASE_URL with the path replaced by the test database's name."""
    if connection.vendor != "postgresql":
        pytest.fail(
            "A real Celery worker shares the test database with the test, which needs "
            f"PostgreSQL, not {connection.vendor}. Set DATABASE_URL=postgres://... "
            "(bin/test does)."
        )
    url = os.environ.get("DATABASE_URL", "")
    name = connection.settings_dict["NAME"]
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _check_broker():
    if _broker_scheme() in {"filesystem", "memory", ""}:
        pytest.fail(
            f"Worker tests need a broker server, not {_broker_scheme()}://. "
            "Set CELERY_BROKER_URL=redis://127.0.0.1:6379/N (bin/test does)."
        )
    try:
        with celery_app.connection_for_write(connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=5)
    except Exception as exc:
        pytest.fail(
            f"The Celery broker ({_broker_scheme()}) is not reachable: {type(exc).__name__}. "
            "Start Redis on 127.0.0.1:6379 (bin/test starts it when it can)."
        )


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path, worker_id):
    """A real `celery worker` subprocess on the test database and this session's broker.

    Needs rows committed before the worker can see them, so it turns the test into a
    transactional one (`transactional_db`); mark the test
    `@pytest.mark.django_db(transaction=True)` to say so. While it runs, tasks are sent
    to the broker (task_always_eager is off), on queue "default" as in production.
    The handle has .name (the node name), .queue, .pid, .stop() and .log().
    """
    _check_broker()
    database_url = _test_database_url()
    name = f"test-{worker_id}-{uuid.uuid4().hex[:8]}@governance-tests"
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "PYTHONUNBUFFERED": "1",
        # Files the worker stores (evidence packs) land where this test's server reads.
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }
    if _uses_redis():
        env[PREFIX_ENV] = SESSION_PREFIX
    log_path = tmp_path / "celery-worker.log"
    args = [
        sys.executable, "-c", _WORKER_MAIN,
        "--pool=solo", "--loglevel=INFO", "-Q", queue, "-n", name,
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            args, cwd=settings.BASE_DIR, env=env, stdout=log_file, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    worker = WorkerProcess(name=name, queue=queue, process=process, log_path=log_path)
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        deadline = time.monotonic() + WORKER_START_TIMEOUT
        while not worker.answers_ping(timeout=0.3):
            if not worker.is_running():
                pytest.fail(
                    f"The Celery worker exited with code {process.returncode} before it "
                    f"answered a ping. Its log:\n{worker.log()[-4000:]}"
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    f"The Celery worker did not answer a ping within {WORKER_START_TIMEOUT:.0f}"
                    f" s. Its log:\n{worker.log()[-4000:]}"
                )
        yield worker
    finally:
        worker.stop()
        celery_app.conf.task_always_eager = eager
        # Shown by pytest when the test fails.
        print(f"--- celery worker {name} log ---\n{worker.log()[-8000:]}")


class DjangoProcess:
    """A second OS process running `script` (Django set up, on this test's database and
    environment, cache key prefix included) that answers one JSON line per line it is
    sent. Cross-process tests use it to prove a change reaches another worker."""

    def __init__(self, script: str, *, name: str, env: dict | None = None):
        self.name = name
        full_env = {**os.environ, "DATABASE_URL": _test_database_url(),
                    "PYTHONUNBUFFERED": "1", **(env or {})}
        self.process = subprocess.Popen(
            [sys.executable, "-c", script], cwd=settings.BASE_DIR, env=full_env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert self._read() == {"ready": True}

    def _read(self):
        line = self.process.stdout.readline()
        if not line:
            pytest.fail(f"The {self.name} process died: {self.process.stderr.read()[-3000:]}")
        return json.loads(line)

    def ask(self, line: str):
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return self._read()

    def stop(self):
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def require_shared_cache():
    """Fail (never skip) unless the cache is a reachable Redis shared by processes."""
    from django.core.cache import cache

    backend = settings.CACHES["default"]["BACKEND"]
    if not backend.endswith("RedisCache"):
        pytest.fail(f"Cross-process invalidation needs a shared cache, not {backend}. Set "
                    "CACHE_URL=redis://127.0.0.1:6379/N (bin/test does).")
    try:
        cache.set("tests:ping", 1, 5)
    except Exception as exc:
        pytest.fail(f"The cache at CACHE_URL is not reachable ({type(exc).__name__}). Start "
                    "Redis on 127.0.0.1:6379 (bin/test starts it when it can).")


def wait_for(condition, *, timeout: float = 15.0, interval: float = 0.1, message: str = ""):
    """Poll condition() until it returns something truthy; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(message or f"Condition not met within {timeout} s")
        time.sleep(interval)


# --- Browser (pytest-playwright) -------------------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Launch Debian's Chromium; Playwright's own browser downloads are not used."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}. Install it: "
            "`apt-get install -y chromium` (bin/test does when run as root), "
            "or set CHROMIUM_PATH."
        )
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(autouse=True)
def _browser_tests_allow_sync_orm(request, monkeypatch):
    """Playwright's sync API runs an event loop in the test thread; let the test's own
    ORM calls through (for browser tests only)."""
    if request.node.get_closest_marker("browser"):
        monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
