"""Signed audit checkpoints: a database administrator who rewrites the log and recomputes
its hashes, or cuts its tail and moves the head back, is reported by verify_audit_chain.

Attacks are played with raw SQL after switching the append-only trigger off, as a
superuser can; the attacker knows the hash formula (the code is open source) but not the
signing key, which lives outside the database.
"""

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from governance.env import env_ed25519_key
from governance.health import check_audit_checkpoints
from orgs.audit import (
    GENESIS_HASH,
    AuditChainHead,
    AuditCheckpoint,
    AuditEvent,
    ChainBroken,
    CheckpointsOff,
    audit_checkpoint_create,
    audit_problems,
    record_event,
    verify_chain,
)
from orgs.audit.signing import public_key_pem, signed_bytes
from orgs.checks import audit_signing_key_check
from orgs.events import NotificationEvent
from orgs.tasks import audit_checkpoint_task

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def write_events(org, n):
    for i in range(n):
        with transaction.atomic():
            record_event(org=org, actor=None, action="test.event", changes={"i": [None, i]})


@pytest.fixture
def sign(django_capture_on_commit_callbacks):
    """Sign org's head now, the way the scheduled task does, publishing after commit."""
    def sign(org):
        with django_capture_on_commit_callbacks(execute=True):
            return audit_checkpoint_create(org=org)
    return sign


def file_lines(settings):
    return [json.loads(line) for line in settings.AUDIT_CHECKPOINT_FILE.read_text().splitlines()]


def dba(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")  # triggers off
        cursor.execute(sql, params)


def rewrite_from(org, seq, **changes):
    """Edit event seq, then recompute the hash of it and every later event and move the
    head: the chain on its own verifies again."""
    sets = ", ".join(f"{name} = %s" for name in changes)
    dba(f"UPDATE orgs_auditevent SET {sets} WHERE org_id = %s AND seq = %s",
        [*changes.values(), org.pk, seq])
    before = AuditEvent.objects.for_org(org).filter(seq=seq - 1).first()
    prev = before.hash if before else GENESIS_HASH
    for event in AuditEvent.objects.for_org(org).filter(seq__gte=seq).order_by("seq"):
        event.prev_hash = prev
        prev = event.compute_hash()
        dba("UPDATE orgs_auditevent SET prev_hash = %s, hash = %s WHERE id = %s",
            [event.prev_hash, prev, event.pk])
    dba("UPDATE orgs_auditchainhead SET last_hash = %s WHERE org_id = %s", [prev, org.pk])


def cut_tail(org, keep):
    """Delete the events after #keep and move the head back to #keep."""
    last = AuditEvent.objects.for_org(org).get(seq=keep)
    dba("DELETE FROM orgs_auditevent WHERE org_id = %s AND seq > %s", [org.pk, keep])
    dba("UPDATE orgs_auditchainhead SET seq = %s, last_hash = %s WHERE org_id = %s",
        [keep, last.hash, org.pk])


def test_a_checkpoint_signs_the_head_and_is_published_to_the_file(org_a, sign, settings,
                                                                   audit_signing_key):
    write_events(org_a, 3)
    checkpoint = sign(org_a)
    head = AuditChainHead.objects.get(org=org_a)
    assert (checkpoint.seq, checkpoint.hash) == (3, head.last_hash)
    [line] = file_lines(settings)
    assert (line["org"], line["seq"], line["hash"], line["signature"]) == (
        org_a.pk, 3, head.last_hash, checkpoint.signature)
    # Independently of our verifier: the signature is a valid Ed25519 signature by the key.
    private = Ed25519PrivateKey.from_private_bytes(base64.b64decode(audit_signing_key))
    private.public_key().verify(base64.b64decode(line["signature"]), signed_bytes(line))
    assert verify_chain(org_a) is None


def test_an_unchanged_head_is_not_signed_again(org_a, sign, settings):
    write_events(org_a, 2)
    sign(org_a)
    assert sign(org_a) is None
    write_events(org_a, 1)
    assert sign(org_a).seq == 3
    assert [line["seq"] for line in file_lines(settings)] == [2, 3]


def test_an_org_without_events_gets_no_checkpoint(org_a, sign):
    assert sign(org_a) is None
    assert not AuditCheckpoint.objects.for_org(org_a).exists()


def test_an_edit_with_recomputed_hashes_is_reported(org_a, sign, capsys):
    write_events(org_a, 5)
    sign(org_a)
    rewrite_from(org_a, 2, action="key.revoked")
    # The attack works against the chain alone ...
    call_command("verify_audit_chain", org="acme", no_checkpoints=True)
    capsys.readouterr()
    # ... and not against the signed checkpoint.
    with pytest.raises(CommandError, match="Audit log broken for: acme"):
        call_command("verify_audit_chain", org="acme")
    assert "event #5 differs from the checkpoint" in capsys.readouterr().out


def test_a_cut_tail_with_the_head_moved_back_is_reported(org_a, sign, capsys):
    write_events(org_a, 5)
    sign(org_a)
    cut_tail(org_a, keep=3)
    call_command("verify_audit_chain", org="acme", no_checkpoints=True)
    capsys.readouterr()
    with pytest.raises(CommandError, match="Audit log broken for: acme"):
        call_command("verify_audit_chain", org="acme")
    assert "the chain was cut" in capsys.readouterr().out and "ends at #3" in (
        verify_chain(org_a))
    with pytest.raises(ChainBroken, match="the chain head is at #3, behind event #5"):
        sign(org_a)


def test_deleting_the_checkpoint_rows_too_is_caught_by_the_file(org_a, sign):
    write_events(org_a, 4)
    sign(org_a)
    rewrite_from(org_a, 1, actor_label="nobody@acme.test")
    dba("DELETE FROM orgs_auditcheckpoint WHERE org_id = %s", [org_a.pk])
    assert "is missing from the database" in verify_chain(org_a)


def test_a_forged_checkpoint_row_is_reported(org_a, sign):
    write_events(org_a, 2)
    checkpoint = sign(org_a)
    rewrite_from(org_a, 1, action="x.y")
    head = AuditChainHead.objects.get(org=org_a)
    # The attacker copies the real row's signature onto the new head: it does not verify.
    dba("UPDATE orgs_auditcheckpoint SET hash = %s WHERE id = %s", [head.last_hash, checkpoint.pk])
    assert "no valid signature by a trusted key" in verify_chain(org_a)


def test_checkpoint_rows_cannot_be_updated_in_postgresql(org_a, sign):
    write_events(org_a, 1)
    checkpoint = sign(org_a)
    with (pytest.raises(Exception, match="append-only: UPDATE on orgs_auditcheckpoint"),
          transaction.atomic(), connection.cursor() as cursor):
        cursor.execute("UPDATE orgs_auditcheckpoint SET seq = 9 WHERE id = %s", [checkpoint.pk])
    assert AuditCheckpoint.objects.get(pk=checkpoint.pk).seq == 1


def test_an_auditor_verifies_with_the_public_key_only(org_a, sign, settings, tmp_path, capsys):
    write_events(org_a, 3)
    sign(org_a)
    call_command("audit_checkpoint", public_key=True)
    public = tmp_path / "audit.pub"
    public.write_text(capsys.readouterr().out)
    settings.AUDIT_SIGNING_KEY = ""  # the auditor's machine holds no private key
    call_command("verify_audit_chain", public_key=[str(public)])
    assert "acme: ok (3 events)" in capsys.readouterr().out
    other = tmp_path / "other.pub"
    other.write_text(public_key_pem(Ed25519PrivateKey.generate().public_key()))
    with pytest.raises(CommandError, match="broken for: acme"):
        call_command("verify_audit_chain", public_key=[str(other)])
    assert "no valid signature by a trusted key" in capsys.readouterr().out


def test_verify_without_any_key_refuses_instead_of_passing(org_a, settings):
    settings.AUDIT_SIGNING_KEY = ""
    with pytest.raises(CommandError, match="No key to check checkpoints with"):
        call_command("verify_audit_chain")


def test_a_bad_public_key_file_is_named(org_a, tmp_path):
    bad = tmp_path / "bad.pub"
    bad.write_text("not a key")
    with pytest.raises(CommandError, match="bad.pub: the public key is neither PEM nor base64"):
        call_command("verify_audit_chain", public_key=[str(bad)])


def test_a_rewritten_chain_is_never_signed(org_a, sign, settings):
    write_events(org_a, 3)
    sign(org_a)
    rewrite_from(org_a, 2, action="x.y")
    write_events(org_a, 1)
    with pytest.raises(ChainBroken, match="event #4 does not link to event #3"):
        sign(org_a)
    assert list(AuditCheckpoint.objects.for_org(org_a).values_list("seq", flat=True)) == [3]
    assert len(file_lines(settings)) == 1


def test_the_scheduled_task_signs_every_org_and_raises_an_alarm_on_a_rewrite(
        org_a, org_b, settings, django_capture_on_commit_callbacks):
    write_events(org_a, 2)
    write_events(org_b, 1)
    with django_capture_on_commit_callbacks(execute=True):
        audit_checkpoint_task()  # eager in tests: the per-org tasks run inline
    assert sorted(AuditCheckpoint.objects.all_orgs().values_list("org__slug", "seq")) == [
        ("acme", 2), ("globex", 1)]
    rewrite_from(org_a, 1, action="x.y")
    write_events(org_a, 1)
    with django_capture_on_commit_callbacks(execute=True):
        audit_checkpoint_task()
    with django_capture_on_commit_callbacks(execute=True):
        audit_checkpoint_task()  # the next run finds the same break: no second alarm
    alarm = NotificationEvent.objects.for_org(org_a).get(kind="security.audit_chain_broken")
    assert alarm.severity == "critical" and "does not link" in alarm.payload["problem"]
    assert AuditCheckpoint.objects.for_org(org_a).count() == 1


def test_a_head_changed_in_place_is_not_signed_and_is_reported(org_a, sign):
    write_events(org_a, 2)
    sign(org_a)
    dba("UPDATE orgs_auditchainhead SET last_hash = %s WHERE org_id = %s", ["f" * 64, org_a.pk])
    with pytest.raises(ChainBroken, match="the chain head does not match event #2"):
        sign(org_a)
    assert verify_chain(org_a) == "the chain head does not match event #2 (the head was changed)"


def test_junk_in_the_checkpoint_file_is_reported_not_trusted(org_a, sign, settings):
    write_events(org_a, 1)
    sign(org_a)
    with settings.AUDIT_CHECKPOINT_FILE.open("a") as fh:
        fh.write("not json\n")
        fh.write(json.dumps({"org": org_a.pk, "seq": 1, "key": [1], "signature": 5}) + "\n")
    with pytest.raises(CommandError, match="broken for: acme"):
        call_command("verify_audit_chain")
    problems = audit_problems(org_a)
    assert "line 2 of the checkpoint file is not a checkpoint" in problems
    assert ("the checkpoint at #1 in the checkpoint file has no valid signature by a trusted "
            "key (forged or altered)") in problems


def test_without_a_key_checkpoints_are_off_and_say_so(org_a, settings, capsys):
    settings.AUDIT_SIGNING_KEY = ""
    with pytest.raises(CheckpointsOff):
        audit_checkpoint_create(org=org_a)
    with pytest.raises(CommandError, match="checkpoints are off"):
        call_command("audit_checkpoint")
    [warning] = audit_signing_key_check(None)
    assert warning.id == "orgs.W001"
    assert check_audit_checkpoints() == {
        "ok": False, "error": "AUDIT_SIGNING_KEY is not set: checkpoints are off"}


@pytest.mark.parametrize(("value", "message"), [
    ("not base64!", "must be base64 of a 32-byte Ed25519 key"),
    (base64.b64encode(b"short").decode(), "not 5 bytes"),
])
def test_a_bad_signing_key_stops_start_up(monkeypatch, value, message):
    monkeypatch.setenv("AUDIT_SIGNING_KEY", value)
    with pytest.raises(ImproperlyConfigured, match=message):
        env_ed25519_key("AUDIT_SIGNING_KEY")


def test_the_signing_key_can_come_from_a_file(monkeypatch, tmp_path, audit_signing_key):
    path = tmp_path / "audit.key"
    path.write_text(audit_signing_key + "\n")
    monkeypatch.delenv("AUDIT_SIGNING_KEY", raising=False)
    monkeypatch.setenv("AUDIT_SIGNING_KEY_FILE", str(path))
    assert env_ed25519_key("AUDIT_SIGNING_KEY") == audit_signing_key
    monkeypatch.setenv("AUDIT_SIGNING_KEY_FILE", str(tmp_path / "missing.key"))
    with pytest.raises(ImproperlyConfigured, match="AUDIT_SIGNING_KEY_FILE cannot be read"):
        env_ed25519_key("AUDIT_SIGNING_KEY")
