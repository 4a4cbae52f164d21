"""The per-org decision version: a counter in the shared cache (Redis in production) that
every change to what the decision engine reads bumps, so each worker process rebuilds its
compiled index on its next decision. Same pattern as projects/credentials.py's generation.

Bumped inside the transaction and again after commit: a process that rebuilt from the old
rows between the first bump and the commit is caught by the second."""

import time

from django.core.cache import cache
from django.db import transaction

KEY = "approvals:decisions:version:{org_id}"


def key(org_id) -> str:
    """The org's version key in the cache (decide() reads it with the credential
    generation in one get_many)."""
    return KEY.format(org_id=org_id)


def version(org_id) -> int | None:
    """The org's current version; None when the shared cache cannot be read (callers must
    then not trust any cached index: fail closed to a rebuild)."""
    key = KEY.format(org_id=org_id)
    try:
        value = cache.get(key)
        if value is None:
            # A fresh never-seen value: a counter lost from the cache never returns to a
            # value some process built its index under.
            cache.add(key, time.time_ns(), timeout=None)
            value = cache.get(key)
        return value
    except Exception:
        return None


def _bump(org_id):
    key = KEY.format(org_id=org_id)
    try:
        cache.incr(key)
    except ValueError:  # missing: any fresh value invalidates every process
        cache.add(key, time.time_ns(), timeout=None)


def decisions_changed(org):
    """Call inside any transaction that changes rows, deny rules or spend of `org`."""
    org_id = getattr(org, "pk", org)
    _bump(org_id)
    transaction.on_commit(lambda: _bump(org_id))
