"""orgs.expire_stale_credentials: the sweep's rules, and a real worker running it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from orgs.audit import AuditEvent, verify_chain
from orgs.models import Invitation
from orgs.services import STALE_AFTER, invitation_expire_stale
from orgs.tasks import expire_stale_credentials_for_org_task, expire_stale_credentials_task
from tests.components import wait_for
from tests.factories import OrganizationFactory


def make_invitation(org, email, *, expired_days_ago, **fields):
    _, token_hash = Invitation.new_token()
    return Invitation.objects.create(
        org=org, email=email, token_hash=token_hash,
        created_at=timezone.now() - timedelta(days=expired_days_ago + 7),
        expires_at=timezone.now() - timedelta(days=expired_days_ago),
        **fields,
    )


def expired_events(org):
    return AuditEvent.objects.for_org(org).filter(action="invitation.expired")


@pytest.fixture
def invitations(org_a):
    stale_days = STALE_AFTER.days + 1
    return {
        "stale": make_invitation(org_a, "stale@example.com", expired_days_ago=stale_days),
        "recent": make_invitation(org_a, "recent@example.com", expired_days_ago=1),
        "pending": make_invitation(org_a, "pending@example.com", expired_days_ago=-3),
        "accepted": make_invitation(org_a, "accepted@example.com", expired_days_ago=stale_days,
                                    accepted_at=timezone.now() - timedelta(days=40)),
        "revoked": make_invitation(org_a, "revoked@example.com", expired_days_ago=stale_days,
                                   revoked_at=timezone.now() - timedelta(days=40)),
    }


@pytest.mark.django_db
def test_sweep_revokes_only_long_expired_open_invitations(org_a, invitations):
    assert invitation_expire_stale(org=org_a) == 1

    for key, invitation in invitations.items():
        before = invitation.revoked_at
        invitation.refresh_from_db()
        if key == "stale":
            assert invitation.revoked_at is not None
            assert invitation.status == Invitation.Status.REVOKED
        else:
            assert invitation.revoked_at == before, key
    [event] = expired_events(org_a)
    assert event.actor is None
    assert event.object_id == str(invitations["stale"].public_id)
    assert verify_chain(org_a) is None


@pytest.mark.django_db
def test_sweep_is_idempotent(org_a, invitations):
    assert invitation_expire_stale(org=org_a) == 1
    assert invitation_expire_stale(org=org_a) == 0
    assert expired_events(org_a).count() == 1


@pytest.mark.django_db
def test_beat_task_covers_every_org_and_stays_inside_each(org_a, org_b, invitations):
    other = make_invitation(org_b, "stale@example.com", expired_days_ago=STALE_AFTER.days + 5)

    # Eager here: the fan-out runs each org's task inline.
    assert expire_stale_credentials_task.delay().get() == 2

    other.refresh_from_db()
    assert other.revoked_at is not None
    assert expired_events(org_a).count() == 1
    assert expired_events(org_b).count() == 1
    assert expired_events(org_b).get().object_id == str(other.public_id)


@pytest.mark.django_db
def test_org_task_ignores_a_deleted_org():
    assert expire_stale_credentials_for_org_task.delay(10**9).get() == 0


@pytest.mark.parametrize("task", [expire_stale_credentials_task,
                                  expire_stale_credentials_for_org_task])
def test_tasks_go_to_the_default_queue_ack_late_and_retry_a_few_times(task):
    route = task.app.amqp.router.route({}, task.name)
    assert route["queue"].name == "default"
    assert task.acks_late is True
    assert task.max_retries == 3


def test_task_name_matches_beat_schedule(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "orgs.expire_stale_credentials" in tasks


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_real_worker_revokes_stale_invitation(celery_worker_process):
    org = OrganizationFactory(slug="sweep-worker")
    stale = make_invitation(org, "old@example.com", expired_days_ago=STALE_AFTER.days + 2)
    recent = make_invitation(org, "new@example.com", expired_days_ago=2)

    # Beat's message: the worker runs the fan-out, which sends this org's task.
    expire_stale_credentials_task.apply_async(queue=celery_worker_process.queue)

    wait_for(
        lambda: expired_events(org).exists(), timeout=20,
        message="The worker did not expire the invitation (its log is in the captured output)",
    )
    stale.refresh_from_db()
    recent.refresh_from_db()
    assert stale.revoked_at is not None
    assert recent.revoked_at is None
    event = expired_events(org).get()
    assert event.object_id == str(stale.public_id)
    assert verify_chain(org) is None
    log = celery_worker_process.log()
    assert "orgs.expire_stale_credentials[" in log
    assert "orgs.expire_stale_credentials_for_org[" in log
