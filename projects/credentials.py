"""Credential resolution: the one function that turns a presented secret (a team API key
or an exchanged workload token) into (org, project, environment, caller), or a typed
failure. The decision service calls it before every model call, so it is cached.

Caching, and why revocation is still immediate everywhere:

- Each process keeps a local dict {secret hash: what the database said}, negative answers
  (unknown secrets) included. A hit costs one read of the shared *generation* counter from
  the Django cache (Redis in production) and no database query; a miss costs one indexed
  query (secret_hash is unique; org, project, environment and caller come in the same
  query through joins).
- Every change that can turn a yes into a no (revoke, rotate, leak, deleting a workload
  identity) bumps the generation, inside the transaction and again after commit. (Creating
  a credential does not: a secret that did not exist cannot have been cached as unknown.)
  The counter is global, so a revocation anywhere refills every process's dict once;
  revocations are rare next to requests, and one counter keeps the hit path at one read.
  A process that sees a generation other than the one its dict was filled under drops the
  dict, so the next request in *every* process re-reads the database. The bump after
  commit covers a process that read the old row between our bump and our commit.
- Expiry needs no bump: each entry keeps expires_at and is judged against the clock.
- If the shared cache cannot be read, nothing is served from the dict (fail closed).

last_used_at is written at most once a minute per key: a per-process clock gates a
cache.add() flag shared by all processes, and only its winner runs one conditional UPDATE.
"""

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from projects.models import ApiKey, Environment, WorkloadToken
from projects.secrets import WORKLOAD, hash_secret, kind_of

GENERATION_KEY = "projects:credentials:generation"
LOCAL_MAX_ENTRIES = 20_000
LAST_USED_EVERY = timedelta(seconds=60)


class FailureReason(models.TextChoices):
    UNKNOWN = "unknown", "No such credential"
    REVOKED = "revoked", "The credential was revoked"
    EXPIRED = "expired", "The credential has expired"
    WRONG_ENVIRONMENT = "wrong_environment", "The credential belongs to another environment"


@dataclass(frozen=True, slots=True)
class Resolved:
    """Who is calling: the credential's org, project, environment and caller."""

    org: Any
    project: Any
    environment: Any
    caller: Any
    kind: str  # "api_key" or "workload_token"
    credential_id: Any  # the public id of the key or token
    expires_at: datetime
    # API keys: the lineage (first key's public id) shared by a key and its rotations,
    # which is what approval rows bind to. None for workload tokens.
    lineage: Any = None
    ok = True


@dataclass(frozen=True, slots=True)
class Failure:
    reason: str
    ok = False

    @property
    def message(self) -> str:
        return FailureReason(self.reason).label


@dataclass(slots=True)
class _Entry:
    resolved: Resolved | None  # None: no credential has this secret
    revoked: bool
    key_pk: int | None  # API keys only: for last_used_at
    touched: float = 0.0  # monotonic time of this process's last last_used check


class _LocalCache:
    def __init__(self):
        self.lock = threading.Lock()
        self.entries: OrderedDict[str, _Entry] = OrderedDict()
        self.generation: int | None = None

    def get(self, secret_hash: str, generation: int) -> _Entry | None:
        with self.lock:
            if generation != self.generation:
                self.entries.clear()
                self.generation = generation
                return None
            return self.entries.get(secret_hash)

    def put(self, secret_hash: str, generation: int, entry: _Entry):
        with self.lock:
            if generation != self.generation:
                return  # filled under an older generation: do not keep it
            self.entries[secret_hash] = entry
            if len(self.entries) > LOCAL_MAX_ENTRIES:
                self.entries.popitem(last=False)

    def clear(self):
        with self.lock:
            self.entries.clear()
            self.generation = None


_local = _LocalCache()


def _generation() -> int | None:
    try:
        value = cache.get(GENERATION_KEY)
        if value is None:
            # A fresh, never-seen value (not 1), so a counter lost from the cache can
            # never come back as a value some process filled its dict under.
            cache.add(GENERATION_KEY, time.time_ns(), timeout=None)
            value = cache.get(GENERATION_KEY)
        return value
    except Exception:  # the shared cache is down: serve nothing from the local dict
        return None


def _bump():
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # the counter is missing: any new value invalidates everyone
        cache.add(GENERATION_KEY, time.time_ns(), timeout=None)


def credentials_changed():
    """Call inside any transaction that revokes, rotates or deletes a credential: every
    process drops its cached resolutions on its next request."""
    _bump()
    transaction.on_commit(_bump)


def _load(secret_hash: str, kind: str) -> _Entry:
    # Global lookup by secret hash, like an invitation link: the secret names the org.
    model = WorkloadToken if kind == WORKLOAD else ApiKey
    row = (model.objects.select_related("org", "project", "environment", "caller")
           .filter(secret_hash=secret_hash).first())
    if row is None:
        return _Entry(resolved=None, revoked=False, key_pk=None)
    resolved = Resolved(
        org=row.org, project=row.project, environment=row.environment, caller=row.caller,
        kind="workload_token" if model is WorkloadToken else "api_key",
        credential_id=row.public_id, expires_at=row.expires_at,
        lineage=row.lineage if model is ApiKey else None,
    )
    return _Entry(resolved=resolved, revoked=row.revoked_at is not None,
                  key_pk=row.pk if model is ApiKey else None)


def _environment_matches(resolved: Resolved, environment) -> bool:
    if isinstance(environment, Environment):
        return environment.pk == resolved.environment.pk
    return str(environment) == str(resolved.environment.public_id)


_READ = object()


def resolve_credential(secret: str, *, environment=None,
                       generation=_READ) -> Resolved | Failure:
    """Who is calling with this secret. `environment` (an Environment or its public id),
    when given, must be the credential's own. Reads at most one row; audits nothing
    (the caller decides what a failure means). `generation`: the GENERATION_KEY value
    the caller just read from the cache itself (None: the cache could not be read), so
    a caller that needs other keys too reads them all in one round trip."""
    kind = kind_of(secret)
    if kind is None:  # wrong shape or checksum: no lookup at all
        return Failure(FailureReason.UNKNOWN)
    secret_hash = hash_secret(secret)
    if generation is _READ:
        generation = _generation()
    entry = _local.get(secret_hash, generation) if generation is not None else None
    if entry is None:
        entry = _load(secret_hash, kind)
        if generation is not None:
            _local.put(secret_hash, generation, entry)
    resolved = entry.resolved
    if resolved is None:
        return Failure(FailureReason.UNKNOWN)
    if entry.revoked:
        return Failure(FailureReason.REVOKED)
    now = timezone.now()
    if resolved.expires_at <= now:
        return Failure(FailureReason.EXPIRED)
    if environment is not None and not _environment_matches(resolved, environment):
        return Failure(FailureReason.WRONG_ENVIRONMENT)
    if entry.key_pk is not None:
        _touch(entry, secret_hash, now)
    return resolved


def _touch(entry: _Entry, secret_hash: str, now):
    clock = time.monotonic()
    if clock - entry.touched < LAST_USED_EVERY.total_seconds():
        return
    entry.touched = clock
    try:
        first = cache.add(f"projects:key-used:{secret_hash}", 1,
                          timeout=int(LAST_USED_EVERY.total_seconds()))
    except Exception:
        first = True
    if first:
        ApiKey.objects.filter(pk=entry.key_pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_EVERY)
        ).update(last_used_at=now)


def clear_local_cache():
    """Forget this process's cached resolutions (tests and benchmarks)."""
    _local.clear()
