"""The audit log: append-only, hash-chained per org, verifiable, fork-free under concurrency."""

import importlib
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections, transaction
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

from orgs.audit import (
    GENESIS_HASH,
    HASHED_FIELDS,
    AppendOnlyError,
    AuditEvent,
    record_event,
    verify_chain,
)
from orgs.context import request_context
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


def as_dba(cursor):
    """What a database administrator does first: switch off triggers, the append-only one
    included (a superuser may). SET LOCAL: the test's rollback switches them back on."""
    cursor.execute("SET LOCAL session_replication_role = replica")


def write_events(org, n):
    for i in range(n):
        with transaction.atomic():
            record_event(org=org, actor=None, action="test.event", changes={"i": [None, i]})


def test_events_link_into_a_chain_that_verifies(org_a):
    write_events(org_a, 5)
    seqs = list(AuditEvent.objects.for_org(org_a).order_by("seq").values_list("seq", flat=True))
    assert seqs == [1, 2, 3, 4, 5]
    assert verify_chain(org_a) is None


def test_each_org_has_its_own_chain(org_a, org_b):
    write_events(org_a, 2)
    write_events(org_b, 3)
    assert AuditEvent.objects.for_org(org_b).order_by("seq").first().seq == 1
    assert verify_chain(org_a) is None and verify_chain(org_b) is None


def test_event_records_request_id_and_client_address(org_a):
    with request_context(request_id="req-12345678", client_ip="203.0.113.9"):
        write_events(org_a, 1)
    event = AuditEvent.objects.for_org(org_a).get()
    assert (event.request_id, event.client_ip) == ("req-12345678", "203.0.113.9")


@pytest.mark.django_db(transaction=True)
def test_record_event_outside_a_transaction_is_refused(org_a):
    with pytest.raises(RuntimeError):
        record_event(org=org_a, actor=None, action="test.event")


def test_events_cannot_be_updated_or_deleted_through_the_orm(org_a):
    write_events(org_a, 1)
    event = AuditEvent.objects.for_org(org_a).get()
    event.action = "something.else"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.for_org(org_a).update(action="x")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.for_org(org_a).delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "test.event"


@pytest.mark.postgres
@pytest.mark.parametrize("statement", [
    "UPDATE orgs_auditevent SET action = 'x' WHERE org_id = %s",
    "DELETE FROM orgs_auditevent WHERE org_id = %s",
])
def test_postgresql_refuses_raw_update_and_delete_on_the_audit_table(org_a, statement):
    assert connection.vendor == "postgresql", "needs PostgreSQL (bin/test sets DATABASE_URL)"
    write_events(org_a, 2)
    with (pytest.raises(DatabaseError, match="audit log rows are append-only"),
          transaction.atomic(), connection.cursor() as cursor):
        cursor.execute(statement, [org_a.pk])
    assert list(AuditEvent.objects.for_org(org_a).order_by("seq")
                .values_list("seq", "action")) == [(1, "test.event"), (2, "test.event")]


def test_the_hash_covers_every_column_but_the_row_id_and_the_hash():
    # A new column must be added to HASHED_FIELDS (and old rows dealt with) deliberately.
    columns = {f.name for f in AuditEvent._meta.concrete_fields} - {"id", "hash"}
    assert set(HASHED_FIELDS) == columns
    assert set(AuditEvent(created_at=timezone.now()).content()) == columns


@pytest.mark.parametrize(("column", "value"), [
    ("public_id", "'8f7c3a56-6a52-4bb8-9a43-2f4c7d8e9b10'"),
    ("actor_id", "4242"),
    ("actor_label", "'someone.else@acme.test'"),
    ("action", "'key.created'"),
    ("object_type", "'project'"),
    ("object_id", "'other'"),
    ("object_repr", "'Other'"),
    ("changes", "'{}'::jsonb"),
    ("created_at", "created_at - interval '1 day'"),
    ("request_id", "'req-forged'"),
    ("client_ip", "'198.51.100.7'"),
])
def test_an_edit_of_any_column_is_reported(org_a, column, value, capsys):
    write_events(org_a, 3)
    with connection.cursor() as cursor:
        as_dba(cursor)
        cursor.execute(f"UPDATE orgs_auditevent SET {column} = {value} "
                       "WHERE org_id = %s AND seq = 2", [org_a.pk])
    with pytest.raises(CommandError, match="broken for: acme"):
        call_command("verify_audit_chain", org="acme")
    assert "event #2" in capsys.readouterr().out


def test_verify_command_passes_on_untouched_chain(org_a):
    write_events(org_a, 3)
    call_command("verify_audit_chain", org="acme")


def test_verify_command_names_the_event_edited_with_raw_sql(org_a, capsys):
    write_events(org_a, 4)
    with connection.cursor() as cursor:
        # What an attacker with database access would do: bypass the ORM entirely.
        as_dba(cursor)
        cursor.execute(
            "UPDATE orgs_auditevent SET changes = %s WHERE org_id = %s AND seq = 3",
            ['{"i": [null, 999]}', org_a.pk],
        )
    with pytest.raises(CommandError):
        call_command("verify_audit_chain", org="acme")
    out = capsys.readouterr().out
    assert "event #3" in out and "altered" in out


def test_verify_command_reports_a_deleted_event(org_a, capsys):
    write_events(org_a, 4)
    with connection.cursor() as cursor:
        as_dba(cursor)
        cursor.execute("DELETE FROM orgs_auditevent WHERE org_id = %s AND seq = 2", [org_a.pk])
    with pytest.raises(CommandError):
        call_command("verify_audit_chain")
    assert "event #2 is missing" in capsys.readouterr().out


def test_verify_command_reports_a_deleted_tail(org_a, capsys):
    write_events(org_a, 4)
    with connection.cursor() as cursor:
        as_dba(cursor)
        cursor.execute("DELETE FROM orgs_auditevent WHERE org_id = %s AND seq = 4", [org_a.pk])
    with pytest.raises(CommandError):
        call_command("verify_audit_chain", org="acme")
    assert "after #3 are missing" in capsys.readouterr().out


def test_verify_command_rejects_unknown_org(org_a):
    with pytest.raises(CommandError, match="No organization"):
        call_command("verify_audit_chain", org="nope")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_fork_the_chain():
    """Several threads, each with its own database connection, append at once."""
    assert connection.vendor == "postgresql", "needs PostgreSQL (bin/test sets DATABASE_URL)"
    org = OrganizationFactory(slug="busy")
    threads, per_thread, errors = 6, 15, []
    barrier = threading.Barrier(threads)

    def writer():
        try:
            barrier.wait()
            write_events(org, per_thread)
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=writer) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert errors == []
    seqs = list(AuditEvent.objects.for_org(org).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, threads * per_thread + 1))
    assert verify_chain(org) is None


def _migration_0008():
    return importlib.import_module("orgs.migrations.0010_audit_checkpoints_full_hash_append_only")


def _apps_before_0008():
    # The models as the migration sees them (plain managers, no append-only queryset).
    before = ("orgs", "0009_personal_token_sso_org_ids")
    return MigrationLoader(connection).project_state(before).apps


def as_previous_release(cursor, org, migration):
    """Rewrite org's chain as the previous release wrote it (public_id not hashed)."""
    prev = GENESIS_HASH
    for event in AuditEvent.objects.for_org(org).order_by("seq"):
        event.prev_hash = prev
        prev = migration._hash(migration._v1(event))
        cursor.execute("UPDATE orgs_auditevent SET prev_hash = %s, hash = %s WHERE id = %s",
                       [event.prev_hash, prev, event.pk])
    cursor.execute("UPDATE orgs_auditchainhead SET last_hash = %s WHERE org_id = %s",
                   [prev, org.pk])


def test_the_migration_rehashes_a_sound_old_chain_to_cover_public_id(org_a):
    migration = _migration_0008()
    write_events(org_a, 3)
    with connection.cursor() as cursor:
        as_dba(cursor)
        as_previous_release(cursor, org_a, migration)
        assert "was altered" in verify_chain(org_a)
        migration.rehash_with_public_id(_apps_before_0008(), None)
    assert verify_chain(org_a) is None


def test_the_migration_refuses_to_rehash_a_broken_chain(org_a):
    migration = _migration_0008()
    write_events(org_a, 3)
    with connection.cursor() as cursor:
        as_dba(cursor)
        as_previous_release(cursor, org_a, migration)
        cursor.execute("UPDATE orgs_auditevent SET action = 'x' WHERE org_id = %s AND seq = 2",
                       [org_a.pk])
        with pytest.raises(RuntimeError, match="is broken at event #2"):
            migration.rehash_with_public_id(_apps_before_0008(), None)
    assert AuditEvent.objects.for_org(org_a).get(seq=2).action == "x"
