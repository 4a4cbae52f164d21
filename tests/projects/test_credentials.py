"""resolve_credential: typed failures, its query budget (none for a cached hit, one indexed
lookup for a miss), throttled last-used writes, and revocation seen on the very next
request by another OS process that had the key cached."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from projects import credentials, keys
from projects.credentials import FailureReason, Resolved, resolve_credential
from projects.models import ApiKey
from projects.secrets import TEST, new_secret
from tests.components import DjangoProcess, require_shared_cache
from tests.projects.conftest import make_key


@pytest.mark.django_db
def test_a_key_resolves_to_its_org_project_environment_and_caller(org_a, owner, envs,
                                                                  caller_a):
    key, secret = make_key(org_a, owner, envs["staging"], caller_a)
    resolved = resolve_credential(secret, environment=envs["staging"])
    assert isinstance(resolved, Resolved) and resolved.ok
    assert (resolved.org, resolved.project, resolved.environment, resolved.caller) == (
        org_a, envs["staging"].project, envs["staging"], caller_a)
    assert resolved.credential_id == key.public_id and resolved.kind == "api_key"


@pytest.mark.django_db
def test_typed_failures(org_a, owner, envs, caller_a):
    _, secret = make_key(org_a, owner, envs["development"], caller_a)
    assert resolve_credential(new_secret(TEST)).reason == FailureReason.UNKNOWN
    assert resolve_credential("not a key").reason == FailureReason.UNKNOWN
    assert resolve_credential(secret, environment=envs["production"]).reason == \
        FailureReason.WRONG_ENVIRONMENT
    # An environment may be named by its public id, as a gateway would.
    assert resolve_credential(secret, environment=str(envs["development"].public_id)).ok
    assert resolve_credential(secret, environment=str(envs["staging"].public_id)).reason == \
        FailureReason.WRONG_ENVIRONMENT


@pytest.mark.django_db
def test_wrong_environment_use_is_refused_for_every_other_environment(org_a, owner, envs,
                                                                       caller_a):
    _, secret = make_key(org_a, owner, envs["production"], caller_a)
    for tier in ("development", "staging"):
        failure = resolve_credential(secret, environment=envs[tier])
        assert not failure.ok and failure.reason == FailureReason.WRONG_ENVIRONMENT


@pytest.mark.django_db
def test_cached_hit_costs_no_query_and_a_miss_one(org_a, owner, envs, caller_a,
                                                  django_assert_num_queries):
    _, secret = make_key(org_a, owner, envs["production"], caller_a)
    with django_assert_num_queries(2):  # the lookup (with joins), the last_used_at update
        assert resolve_credential(secret).ok
    with django_assert_num_queries(0):
        for _ in range(100):
            assert resolve_credential(secret, environment=envs["production"]).ok
    unknown = new_secret(TEST)
    with django_assert_num_queries(1):  # one indexed lookup by secret_hash
        assert not resolve_credential(unknown).ok
    with django_assert_num_queries(0):  # unknown secrets are cached too
        assert not resolve_credential(unknown).ok


@pytest.mark.django_db
def test_last_used_is_written_at_most_once_a_minute(org_a, owner, envs, caller_a,
                                                    monkeypatch):
    key, secret = make_key(org_a, owner, envs["development"], caller_a)
    resolve_credential(secret)
    first = ApiKey.objects.get(pk=key.pk).last_used_at
    assert first is not None
    resolve_credential(secret)
    assert ApiKey.objects.get(pk=key.pk).last_used_at == first


@pytest.mark.django_db
def test_expiry_takes_effect_without_any_invalidation(org_a, owner, envs, caller_a,
                                                      monkeypatch):
    key, secret = make_key(org_a, owner, envs["development"], caller_a, expires_in_days=1)
    assert resolve_credential(secret).ok
    later = timezone.now() + timedelta(days=1, seconds=1)
    monkeypatch.setattr("django.utils.timezone.now", lambda: later)
    assert resolve_credential(secret).reason == FailureReason.EXPIRED


# --- Two processes ----------------------------------------------------------------------

# Runs in the second process: resolves each secret read from stdin and reports the result
# and how many queries it took, one JSON line per request.
RESOLVER = """
import json, sys
import os
import django
django.setup()
from django.db import connection
from django.test.utils import CaptureQueriesContext
from projects import credentials
from projects.credentials import resolve_credential
credentials.GENERATION_KEY = os.environ["TEST_GENERATION_KEY"]  # the test's own counter
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    with CaptureQueriesContext(connection) as queries:
        result = resolve_credential(line.strip())
    print(json.dumps({"ok": result.ok, "reason": getattr(result, "reason", None),
                      "queries": len(queries)}), flush=True)
"""


@pytest.fixture
def resolver_process(transactional_db):
    require_shared_cache()
    resolver = DjangoProcess(RESOLVER, name="resolver",
                             env={"TEST_GENERATION_KEY": credentials.GENERATION_KEY})
    yield resolver
    resolver.stop()


@pytest.mark.django_db(transaction=True)
def test_revocation_and_rotation_reach_another_process_on_its_next_request(
        org_a, owner, envs, caller_a, resolver_process):
    key, secret = make_key(org_a, owner, envs["production"], caller_a)
    other, other_secret = make_key(org_a, owner, envs["development"], caller_a)

    assert resolver_process.ask(secret) == {"ok": True, "reason": None, "queries": 2}
    # Cached in the other process: no query at all.
    assert resolver_process.ask(secret)["queries"] == 0
    assert resolver_process.ask(other_secret)["ok"]
    assert resolver_process.ask(other_secret)["queries"] == 0

    keys.key_revoke(org=org_a, actor=owner, key=key, reason="compromised")
    assert resolver_process.ask(secret) == {"ok": False, "reason": "revoked", "queries": 1}

    keys.key_rotate(org=org_a, actor=owner, key=ApiKey.objects.get(pk=other.pk),
                    overlap_seconds=0)
    assert resolver_process.ask(other_secret)["reason"] == "expired"
    # The rotation dropped that process's cache once more; then "revoked" is cached too.
    assert resolver_process.ask(secret) == {"ok": False, "reason": "revoked", "queries": 1}
    assert resolver_process.ask(secret) == {"ok": False, "reason": "revoked", "queries": 0}
    assert connection.vendor == "postgresql"


@pytest.mark.parametrize("url, backend", [
    ("locmem://", "locmem.LocMemCache"),
    ("redis://127.0.0.1:6379/6", "redis.RedisCache"),
    ("rediss://cache.example.com:6380/0", "redis.RedisCache"),
])
def test_cache_url_becomes_caches(url, backend):
    from governance.env import cache_config

    assert cache_config(url)["default"]["BACKEND"].endswith(backend)


@pytest.mark.parametrize("url", ["memcached://x:11211", "redis://", "nonsense"])
def test_a_bad_cache_url_is_refused_at_start_up(url):
    from django.core.exceptions import ImproperlyConfigured

    from governance.env import cache_config

    with pytest.raises(ImproperlyConfigured):
        cache_config(url)
