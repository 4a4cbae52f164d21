"""Decision fixtures: a production key for caller A, live rows bound to it, and clean
per-process caches (compiled indexes, credential resolutions, the decision log buffer)
around every test."""

from datetime import timedelta

import pytest
from django.utils import timezone

from approvals.decisions import log as decision_log
from approvals.decisions.service import Query
from approvals.decisions.service import clear_local_cache as clear_indexes
from approvals.decisions.versions import decisions_changed
from approvals.models import PolicyRow
from projects.credentials import clear_local_cache as clear_credentials
from tests.projects.conftest import make_key


@pytest.fixture(autouse=True)
def _fresh_decision_caches(settings):
    # No flush thread: it would write outside the test's transaction on its own
    # connection; tests that read the log call decision_log.flush() themselves.
    settings.DECISION_LOG_FLUSH_THREAD = False
    clear_indexes()
    clear_credentials()
    decision_log.buffer.clear()
    yield
    clear_indexes()
    clear_credentials()
    decision_log.buffer.clear()


@pytest.fixture
def key(org_a, people, production, caller_a):
    """(ApiKey, secret) for caller A in production."""
    return make_key(org_a, people["owner"], production, caller_a)


@pytest.fixture
def secret(key):
    return key[1]


@pytest.fixture
def live_row(make_row):
    """live_row(status, **overrides): a row put straight into `status` (active by
    default), activated a day ago."""
    def make(status=PolicyRow.Status.ACTIVE, **overrides):
        row = make_row(status, **overrides)
        PolicyRow.objects.filter(pk=row.pk).update(
            activated_at=timezone.now() - timedelta(days=1))
        row.refresh_from_db()
        decisions_changed(row.org_id)  # as the activating service would
        return row
    return make


def ask(model="gpt-chat", action="chat", data_class="internal", environment="production"):
    return Query(model=model, action=action, data_class=data_class, environment=environment)
