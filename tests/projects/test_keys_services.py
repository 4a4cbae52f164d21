"""Key services: who may create which environment's key, the secret shown once and stored
only as a hash, the org's maximum age, rotation overlap, revocation, leak reports and the
expiry sweep, each with its audit and notification events."""

import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from orgs.audit import AuditEvent
from orgs.events import NotificationEvent
from orgs.services import security_policy_update
from projects import keys
from projects.credentials import FailureReason, resolve_credential
from projects.models import ApiKey
from projects.secrets import KEY_PATTERN, checksum, hash_secret, kind_of
from tests.factories import CallerFactory
from tests.projects.conftest import make_key

pytestmark = pytest.mark.django_db

TIERS = ("development", "staging", "production")
# Who may create a key, per environment tier (org role + project role on the project).
MAY_CREATE = {
    "org_owner": set(TIERS),
    "org_admin": set(TIERS),
    "project_admin": set(TIERS),
    "developer": {"development"},
    "viewer": set(),
    "no_role": set(),
    "security_admin": set(),  # reviewers never hold a key, whatever project role they get
    "finance_developer": set(),
    "auditor_admin": set(),
}


def audit(org, action):
    return AuditEvent.objects.for_org(org).filter(action=action)


def events(org, kind):
    return NotificationEvent.objects.for_org(org).filter(kind=kind)


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("persona", sorted(MAY_CREATE))
def test_key_create_permission_matrix(org_a, people, envs, caller_a, persona, tier):
    actor = people[persona]
    if tier in MAY_CREATE[persona]:
        key, secret = make_key(org_a, actor, envs[tier], caller_a)
        assert key.created_by == actor.user
        assert audit(org_a, "key.created").filter(object_id=str(key.public_id)).exists()
        assert events(org_a, "key.created").filter(subject_id=str(key.public_id)).exists()
    else:
        with pytest.raises(PermissionDenied):
            make_key(org_a, actor, envs[tier], caller_a)
        assert not ApiKey.objects.for_org(org_a).exists()
        assert not audit(org_a, "key.created").exists()


def test_secret_has_scanner_format_and_only_its_hash_is_stored(org_a, owner, envs, caller_a):
    key, secret = make_key(org_a, owner, envs["production"], caller_a)
    assert secret.startswith("gvk_live_") and KEY_PATTERN.fullmatch(secret)
    assert kind_of(secret) == "gvk_live_"
    assert checksum(secret[:-6]) == secret[-6:]
    assert key.prefix == secret[:17] and key.prefix != secret
    row = ApiKey.objects.for_org(org_a).values().get(pk=key.pk)
    assert secret not in str(row)
    assert row["secret_hash"] == hash_secret(secret) != secret
    dev_key, dev_secret = make_key(org_a, owner, envs["staging"], caller_a)
    assert dev_secret.startswith("gvk_test_")


def test_a_typo_fails_the_checksum(org_a, owner, envs, caller_a):
    _, secret = make_key(org_a, owner, envs["development"], caller_a)
    typo = secret[:-7] + ("a" if secret[-7] != "a" else "b") + secret[-6:]
    assert kind_of(typo) is None
    assert resolve_credential(typo).reason == FailureReason.UNKNOWN


def test_expiry_defaults_to_and_is_capped_by_the_org_maximum(org_a, owner, envs, caller_a):
    security_policy_update(org=org_a, actor=owner, max_api_key_days=30)
    key, _ = make_key(org_a, owner, envs["development"], caller_a)
    assert timedelta(days=29, hours=23) < key.expires_at - timezone.now() <= timedelta(days=30)
    with pytest.raises(ValidationError) as exc:
        make_key(org_a, owner, envs["development"], caller_a, expires_in_days=31)
    assert "expires_in_days" in exc.value.message_dict
    short, _ = make_key(org_a, owner, envs["development"], caller_a, expires_in_days=7)
    assert short.expires_at - timezone.now() <= timedelta(days=7)


def test_caller_of_another_project_is_refused(org_a, owner, envs, project_a):
    other = CallerFactory(project__org=org_a, owner=owner)
    with pytest.raises(ValidationError) as exc:
        make_key(org_a, owner, envs["development"], other)
    assert "caller" in exc.value.message_dict


def test_caller_owned_by_a_reviewer_never_holds_a_key(org_a, owner, personas, envs, project_a):
    caller = CallerFactory(project=project_a, owner=personas["security"])
    with pytest.raises(ValidationError) as exc:
        make_key(org_a, owner, envs["development"], caller)
    assert "caller" in exc.value.message_dict


def test_revocation_is_immediate_and_audited(org_a, owner, personas, envs, caller_a):
    key, secret = make_key(org_a, owner, envs["production"], caller_a)
    assert resolve_credential(secret).ok  # now cached in this process
    keys.key_revoke(org=org_a, actor=personas["security"], key=key, reason="service retired")
    assert resolve_credential(secret).reason == FailureReason.REVOKED
    event = audit(org_a, "key.revoked").get()
    assert event.changes["reason"] == [None, "service retired"]
    assert events(org_a, "key.revoked").get().severity == "warning"


def test_revoke_needs_a_reason_and_a_right(org_a, owner, people, envs, caller_a):
    key, _ = make_key(org_a, owner, envs["production"], caller_a)
    with pytest.raises(ValidationError):
        keys.key_revoke(org=org_a, actor=owner, key=key, reason="  ")
    with pytest.raises(PermissionDenied):
        keys.key_revoke(org=org_a, actor=people["developer"], key=key, reason="mine now")
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None


def test_rotation_keeps_the_old_secret_for_the_overlap_then_ends_it(
        org_a, owner, envs, caller_a, monkeypatch):
    key, old_secret = make_key(org_a, owner, envs["production"], caller_a)
    successor, new_secret = keys.key_rotate(org=org_a, actor=owner, key=key,
                                            overlap_seconds=3600)
    assert successor.rotated_from == key and new_secret != old_secret
    assert successor.environment == key.environment and successor.caller == key.caller
    assert resolve_credential(old_secret).ok  # inside the overlap
    assert resolve_credential(new_secret).ok
    later = timezone.now() + timedelta(seconds=3601)
    monkeypatch.setattr("django.utils.timezone.now", lambda: later)
    assert resolve_credential(old_secret).reason == FailureReason.EXPIRED
    assert resolve_credential(new_secret).ok
    rotated = audit(org_a, "key.rotated").get()
    assert rotated.changes["successor"] == [None, str(successor.public_id)]
    assert events(org_a, "key.rotated").get().payload["overlap_seconds"] == 3600


def test_rotation_audit_names_predecessor_successor_and_their_lineage(org_a, owner, envs,
                                                                       caller_a):
    key, _ = make_key(org_a, owner, envs["production"], caller_a)
    successor, _ = keys.key_rotate(org=org_a, actor=owner, key=key, overlap_seconds=3600)
    key.refresh_from_db()
    assert successor.lineage == key.lineage == key.public_id
    rotated = audit(org_a, "key.rotated").get().changes
    assert rotated["successor"] == [None, str(successor.public_id)]
    assert rotated["successor_prefix"] == [None, successor.prefix]
    assert rotated["lineage"] == [None, str(key.public_id)]
    created = audit(org_a, "key.created").filter(object_id=str(successor.public_id)).get()
    assert created.changes["rotated_from"] == [None, str(key.public_id)]
    assert created.changes["rotated_from_prefix"] == [None, key.prefix]


def test_rotation_without_overlap_ends_the_old_secret_now(org_a, owner, envs, caller_a):
    key, old_secret = make_key(org_a, owner, envs["development"], caller_a)
    keys.key_rotate(org=org_a, actor=owner, key=key, overlap_seconds=0)
    assert resolve_credential(old_secret).reason == FailureReason.EXPIRED


def test_only_an_active_key_rotates_and_only_with_an_offered_overlap(
        org_a, owner, people, envs, caller_a):
    key, _ = make_key(org_a, owner, envs["production"], caller_a)
    with pytest.raises(ValidationError):
        keys.key_rotate(org=org_a, actor=owner, key=key, overlap_seconds=5)
    with pytest.raises(PermissionDenied):
        keys.key_rotate(org=org_a, actor=people["developer"], key=key, overlap_seconds=0)
    keys.key_rotate(org=org_a, actor=owner, key=key, overlap_seconds=3600)
    with pytest.raises(ValidationError):
        keys.key_rotate(org=org_a, actor=owner, key=key, overlap_seconds=3600)


def test_reporting_a_leak_revokes_and_notifies_security(org_a, owner, personas, envs,
                                                        caller_a):
    key, secret = make_key(org_a, owner, envs["production"], caller_a)
    assert resolve_credential(secret).ok
    reported = keys.key_report_leaked(actor=personas["auditor"], secret=secret)
    assert reported == key
    assert resolve_credential(secret).reason == FailureReason.REVOKED
    assert audit(org_a, "key.leaked").get().actor == personas["auditor"].user
    event = events(org_a, "key.leaked").get()
    assert event.severity == "critical" and secret not in str(event.payload)


def test_a_leak_reported_from_another_org_revokes_there_and_reveals_nothing(
        org_a, owner, outsider, envs, caller_a):
    key, secret = make_key(org_a, owner, envs["production"], caller_a)
    assert keys.key_report_leaked(actor=outsider, secret=secret) is None
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
    assert audit(org_a, "key.leaked").get().actor is None


def test_report_refuses_what_is_not_a_key(personas):
    with pytest.raises(ValidationError):
        keys.key_report_leaked(actor=personas["member"], secret="gvk_live_nonsense")


def test_expiry_sweep_reports_each_expired_key_once(org_a, owner, envs, caller_a):
    key, _ = make_key(org_a, owner, envs["development"], caller_a)
    ApiKey.objects.for_org(org_a).filter(pk=key.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1))
    assert keys.key_expire_due(org=org_a) == 1
    assert keys.key_expire_due(org=org_a) == 0
    assert audit(org_a, "key.expired").count() == 1
    assert events(org_a, "key.expired").count() == 1


def test_expiry_task_runs_the_sweep_for_every_org(org_a, owner, envs, caller_a):
    from projects.tasks import report_expired_keys_task

    key, _ = make_key(org_a, owner, envs["development"], caller_a)
    ApiKey.objects.for_org(org_a).filter(pk=key.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1))
    report_expired_keys_task.delay()  # eager in unit tests
    assert events(org_a, "key.expired").count() == 1


def test_the_migration_gives_every_rotated_key_its_first_keys_lineage(org_a, owner, envs,
                                                                     caller_a):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("projects.migrations.0003_apikey_lineage")
    first, _ = make_key(org_a, owner, envs["production"], caller_a)
    second, _ = keys.key_rotate(org=org_a, actor=owner, key=first, overlap_seconds=0)
    third, _ = keys.key_rotate(org=org_a, actor=owner, key=second, overlap_seconds=0)
    other, _ = make_key(org_a, owner, envs["production"], caller_a, name="other")
    # As before the migration: every key its own (here: a wrong) lineage.
    for key in (first, second, third, other):
        ApiKey.objects.filter(pk=key.pk).update(lineage=uuid.uuid4())
    migration.fill_lineage(apps, None)
    lineages = dict(ApiKey.objects.values_list("pk", "lineage"))
    assert lineages[first.pk] == lineages[second.pk] == lineages[third.pk] == first.public_id
    assert lineages[other.pk] == other.public_id
