"""decide(): resolve the credential, fetch this process's compiled index of its org, and
evaluate. The hot path of the gateway.

Cost of a decision when nothing changed: one cache round trip (a get_many of the
credential generation of projects/credentials.py and the org's decision version of
versions.py: the org is remembered per credential from its last resolution), then pure
Python; no database query. A credential seen for the first time costs a second read.
After any change the first decision of each process rebuilds the org's index (loader.py:
five queries). If the shared cache cannot be read, the index is rebuilt for every
decision (fail closed: never answer from a possibly stale index).

Decisions of a resolved credential go to the decision log (log.py) when the org's setting,
carried in its index, says so: an append to an in-memory buffer, never a query. Answers
to unresolved credentials have no org and are not logged."""

import gc
import threading
from collections import OrderedDict
from dataclasses import dataclass
from random import random

from django.core.cache import cache
from django.utils import timezone

from approvals.decisions import engine, log
from approvals.decisions.engine import Decision, Reason, Request
from approvals.decisions.loader import load_index
from approvals.decisions.versions import key as version_key
from approvals.decisions.versions import version
from orgs import ratelimit
from projects.credentials import GENERATION_KEY, FailureReason, resolve_credential
from projects.models import WorkloadToken
from projects.secrets import hash_secret, kind_of

_CREDENTIAL_REASONS = {
    FailureReason.UNKNOWN: Reason.CREDENTIAL_UNKNOWN,
    FailureReason.REVOKED: Reason.CREDENTIAL_REVOKED,
    FailureReason.EXPIRED: Reason.CREDENTIAL_EXPIRED,
    FailureReason.WRONG_ENVIRONMENT: Reason.WRONG_ENVIRONMENT,
}
MAX_TOKENS_REMEMBERED = 50_000
_MISSING = object()  # a counter to be read the slow way (absent, or org not known yet)


@dataclass(frozen=True, slots=True)
class Query:
    model: str
    action: str
    data_class: str
    environment: str  # the environment's name ("production") or public id


class _Indexes:
    def __init__(self):
        self.lock = threading.Lock()
        self.by_org: dict = {}
        self.building: dict = {}  # org id -> the lock held while its index is rebuilt
        # workload token public id -> its identity's public id (never changes).
        self.identities: OrderedDict = OrderedDict()
        # secret hash -> org id (a credential never changes org), to read the org's
        # version in the same round trip as the credential generation.
        self.orgs: OrderedDict = OrderedDict()

    def get(self, org_id, current=_MISSING):
        if current is _MISSING:
            current = version(org_id)
        index = self.by_org.get(org_id)
        if current is not None and index is not None and index.version == current:
            return index
        if current is None:  # the cache is down: never trust a kept index
            return load_index(org_id, version=current)
        # One rebuild per org and version in this process: threads that miss at the same
        # moment (a gunicorn gthread worker after a change) wait for the first one's index
        # instead of each loading 10,000 rows.
        with self._build_lock(org_id):
            index = self.by_org.get(org_id)
            if index is None or index.version != current:
                index = load_index(org_id, version=current)
                with self.lock:
                    self.by_org[org_id] = index
                # The index is a large graph of long-lived objects (10,000 rows: about a
                # quarter million): left to the cyclic GC, every full collection walks it,
                # a pause of tens of milliseconds on random requests. Freezing moves what
                # lives now out of the collector's way; a replaced index is still freed
                # by reference counting (it holds no cycles).
                gc.freeze()
        return index

    def _build_lock(self, org_id) -> threading.Lock:
        with self.lock:
            return self.building.setdefault(org_id, threading.Lock())

    def identity_of(self, org_id, token_id):
        identity = self.identities.get(token_id)
        if identity is None:
            public_id = (WorkloadToken.objects.for_org(org_id).filter(public_id=token_id)
                         .values_list("identity__public_id", flat=True).first())
            identity = str(public_id) if public_id else ""
            with self.lock:
                self.identities[token_id] = identity
                if len(self.identities) > MAX_TOKENS_REMEMBERED:
                    self.identities.popitem(last=False)
        return identity

    def remember_org(self, secret_hash, org_id):
        if self.orgs.get(secret_hash) != org_id:
            with self.lock:
                self.orgs[secret_hash] = org_id
                if len(self.orgs) > MAX_TOKENS_REMEMBERED:
                    self.orgs.popitem(last=False)

    def clear(self):
        with self.lock:
            self.by_org.clear()
            self.identities.clear()
            self.orgs.clear()


_indexes = _Indexes()


def clear_local_cache():
    """Forget this process's compiled indexes (tests and benchmarks)."""
    _indexes.clear()


class Throttled(Exception):
    """The client address used up its failed credential authentications (orgs/ratelimit.py,
    settings.FAILED_TOKEN_AUTH_RATE): answer 429 with Retry-After: wait."""

    def __init__(self, wait: int):
        super().__init__(ratelimit.FAILED_AUTH_MESSAGE)
        self.wait = wait


def _read_counters(secret_hash, client):
    """(credential generation, org id remembered for this credential or None, the org's
    decision version) in one cache round trip, which also reads the client address's
    failed-authentication counter (raises Throttled when it is used up; no extra round
    trip on the hot path). _MISSING: read that one the slow way (it is absent, and the
    slow path creates it). Cache down: None for both, which fails closed exactly as the
    slow reads do."""
    org_id = _indexes.orgs.get(secret_hash)
    keys = [GENERATION_KEY] if org_id is None else [GENERATION_KEY, version_key(org_id)]
    rate = ratelimit.failed_auth_rate() if client else None
    throttle_key = ratelimit.key(ratelimit.FAILED_AUTH, client, rate) if rate else None
    try:
        values = cache.get_many(keys + ([throttle_key] if throttle_key else []))
    except Exception:
        return None, org_id, None
    if throttle_key and (wait := ratelimit.over(values.get(throttle_key), rate)):
        raise Throttled(wait)
    current = _MISSING if org_id is None else values.get(keys[1], _MISSING)
    return values.get(GENERATION_KEY, _MISSING), org_id, current


# Answers that count as a failed authentication (a wrong environment is a real credential).
_FAILED = frozenset({FailureReason.UNKNOWN, FailureReason.REVOKED, FailureReason.EXPIRED})


def _resolve(secret, client=None):
    """resolve_credential with both counters prefetched; (resolved, org's version)."""
    if kind_of(secret) is None:
        return resolve_credential(secret), _MISSING
    secret_hash = hash_secret(secret)
    generation, org_id, current = _read_counters(secret_hash, client)
    kwargs = {} if generation is _MISSING else {"generation": generation}
    resolved = resolve_credential(secret, **kwargs)
    if not resolved.ok:
        if client and resolved.reason in _FAILED:
            ratelimit.failed_auth_record(client)
        return resolved, _MISSING
    if resolved.org.pk != org_id:
        _indexes.remember_org(secret_hash, resolved.org.pk)
        current = _MISSING
    return resolved, current


def _environment_matches(environment, wanted: str) -> bool:
    return wanted in (environment.name, str(environment.public_id))


def decide(secret: str, queries: list[Query], *, now=None,
           client: str | None = None) -> tuple[object, list[Decision]]:
    """(org or None, one Decision per query) for the holder of `secret`. The credential is
    resolved once; an unknown, revoked or expired credential denies every query and
    counts as a failed authentication of `client` (the caller's address); raises
    Throttled once that address used up its failures."""
    resolved, current = _resolve(secret, client)
    if not resolved.ok:
        reason = _CREDENTIAL_REASONS[resolved.reason]
        return None, [engine.deny(reason) for _ in queries]
    now = now or timezone.now()
    index = _indexes.get(resolved.org.pk, current)
    if resolved.kind == "workload_token":
        credential = binding = _indexes.identity_of(resolved.org.pk, resolved.credential_id)
    else:
        # Rows bind to the key's lineage (so a rotation keeps them); the log names the key.
        credential, binding = str(resolved.credential_id), str(resolved.lineage)
    decisions = []
    for query in queries:
        if not _environment_matches(resolved.environment, query.environment):
            decision = engine.deny(Reason.WRONG_ENVIRONMENT)
        else:
            request = Request(
                project=resolved.project.pk, environment=resolved.environment.pk,
                caller=resolved.caller.pk, credential_kind=resolved.kind,
                credential=binding, model=query.model, action=query.action,
                data_class=query.data_class)
            decision = engine.evaluate(index, request, now)
        decisions.append(decision)
        rate = index.log_rate
        if rate and (rate >= 1.0 or random() < rate):
            log.record(resolved.org.pk, now, resolved, credential, query, decision,
                       index.log_sampled)
    return resolved.org, decisions
