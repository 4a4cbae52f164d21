"""The decision log (#6 item 10): record decisions for audit without slowing the hot path.

decide() calls `record(...)` after evaluating, when the org's setting (carried in its
compiled index, so no query) says this decision is logged. `record` only appends one tuple
to a per-process, bounded deque; a daemon thread of the same process turns the tuples
into DecisionRecord rows with `bulk_create`, every FLUSH_SECONDS or as soon as BATCH
entries wait, on the thread's own database connection (Django connections are per
thread), and once more at interpreter exit.

Nothing here raises into a request: a failed write is logged and its batch dropped and
counted (`stats()`); past MAX_BUFFERED waiting entries the oldest are dropped and counted.
What a crash (SIGKILL, OOM) loses is what was buffered: at most about one flush interval
of decisions (docs/gateway-integration.md, "Decision log").

Gunicorn may fork workers after import, so the thread is started lazily by the first
record of each process (a fork resets the buffer in the child). Tests turn it off
(settings.DECISION_LOG_FLUSH_THREAD) and call `flush()` themselves, in their transaction.
"""

import atexit
import logging
import os
import threading
from collections import deque

from django.conf import settings
from django.db import connections, transaction

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0
BATCH = 500
MAX_BUFFERED = 50_000


class DecisionBuffer:
    """The per-process queue of decisions waiting to be written."""

    def __init__(self, *, max_buffered=MAX_BUFFERED, batch=BATCH, interval=FLUSH_SECONDS):
        self.max_buffered, self.batch, self.interval = max_buffered, batch, interval
        self._entries = deque()
        self._lock = threading.Lock()  # guards _entries and the counters
        self._flushing = threading.Lock()  # one writer at a time, so batches stay ordered
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = None
        self._started = self._atexit = False
        os.register_at_fork(after_in_child=self._after_fork)
        self.written = self.dropped_overflow = self.dropped_failed = 0

    def append(self, entry: tuple) -> None:
        """Queue one entry; O(1), no I/O. Starts this process's flush thread if needed."""
        if not self._started:
            self._start()
        with self._lock:
            if len(self._entries) >= self.max_buffered:
                self._entries.popleft()
                self.dropped_overflow += 1
            self._entries.append(entry)
            full = len(self._entries) >= self.batch
        if full:
            self._wake.set()

    def _start(self):
        with self._lock:
            if self._started:
                return
            self._started = True
            if not getattr(settings, "DECISION_LOG_FLUSH_THREAD", True):
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="decision-log",
                                            daemon=True)
            self._thread.start()
        if not self._atexit:
            atexit.register(self.stop)
            self._atexit = True

    def _after_fork(self):
        # A forked child (a gunicorn worker) inherits the parent's queue, possibly held
        # locks and no thread: it starts afresh and lazily, like a new process.
        self._lock, self._flushing = threading.Lock(), threading.Lock()
        self._wake, self._stop = threading.Event(), threading.Event()
        self._entries.clear()
        self._thread, self._started = None, False
        self.written = self.dropped_overflow = self.dropped_failed = 0

    def _run(self):
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            self.flush()
        self.flush()
        _close_connection()

    def _take(self) -> list:
        with self._lock:
            n = min(self.batch, len(self._entries))
            return [self._entries.popleft() for _ in range(n)]

    def flush(self) -> int:
        """Write everything buffered now, in batches, on the calling thread's connection;
        returns how many were written. Never raises: a failed batch is dropped, counted and
        logged, and the connection is reset for the next try."""
        written = 0
        with self._flushing:
            while batch := self._take():
                try:
                    _write(batch)
                except Exception:
                    logger.exception("decision log: dropped %d decisions (write failed)",
                                     len(batch))
                    with self._lock:
                        self.dropped_failed += len(batch)
                    if threading.current_thread() is self._thread:
                        _close_connection()
                    break
                written += len(batch)
                with self._lock:
                    self.written += len(batch)
        return written

    def stop(self, timeout: float = 5.0) -> None:
        """Flush what is left and end the thread (at exit; benchmarks before they drop
        their database). Without a thread, flushes on the caller's connection."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            self.flush()
            return
        self._stop.set()
        self._wake.set()
        thread.join(timeout)

    def clear(self) -> None:
        """Forget buffered entries and counters (tests)."""
        with self._lock:
            self._entries.clear()
            self.written = self.dropped_overflow = self.dropped_failed = 0

    def stats(self) -> dict:
        with self._lock:
            return {"buffered": len(self._entries), "written": self.written,
                    "dropped_overflow": self.dropped_overflow,
                    "dropped_failed": self.dropped_failed}


def _close_connection():
    try:
        connections["default"].close()
    except Exception:  # a broken connection may fail to close; the next use reconnects
        logger.debug("decision log: closing the connection failed", exc_info=True)


def _write(batch):
    from approvals.models import DecisionRecord

    records = []
    for (org_id, decided_at, project, environment_id, caller, kind, credential, query,
         decision, sampled) in batch:
        records.append(DecisionRecord(
            org_id=org_id, decided_at=decided_at, allowed=decision.allow,
            reasons=list(decision.reasons), row_public_id=decision.row,
            rule_public_id=decision.rule, credential_kind=kind,
            credential_public_id=credential or None, project_id=project,
            environment_id=environment_id, caller_id=caller, model=query.model[:300],
            action=query.action, data_class=query.data_class,
            environment=query.environment[:64], sampled=sampled))
    # atomic: in a test's transaction a failed insert rolls back to a savepoint only.
    with transaction.atomic():
        DecisionRecord.objects.bulk_create(records)


buffer = DecisionBuffer()


def record(org_id, decided_at, resolved, credential, query, decision, sampled) -> None:
    """Queue one decision for the log (called by decide() after evaluating; cheap)."""
    buffer.append((org_id, decided_at, resolved.project.pk, resolved.environment.pk,
                   resolved.caller.pk, resolved.kind, credential, query, decision, sampled))


def flush() -> int:
    """Write this process's buffered decisions now (tests, management commands)."""
    return buffer.flush()


def stats() -> dict:
    """This process's counters: buffered, written, dropped_overflow, dropped_failed."""
    return buffer.stats()
