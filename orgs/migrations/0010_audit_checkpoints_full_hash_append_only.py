"""Issue 12 (security): the audit log survives a database administrator.

1. AuditCheckpoint: signed chain heads (orgs/audit/checkpoints.py).
2. Every event's hash now covers public_id too. The product is not released yet, so the
   existing chains are re-hashed here (no per-row hash version to carry forever), but
   only after each one verified under the old formula: a chain that was already broken
   stops the migration instead of being laundered by the re-hash.
3. The database itself refuses UPDATE and DELETE on the events and checkpoints tables
   (a trigger on PostgreSQL and on SQLite), so append-only no longer rests on the ORM.
   TRUNCATE stays possible (the test suite flushes with it); checkpoints catch it.
The hash formulas are copied here, frozen, as migrations must not import live code.
"""

import django.db.models.deletion
import hashlib
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import migrations, models

GENESIS_HASH = "0" * 64
V1_FIELDS = ("actor_label", "action", "object_type", "object_id", "object_repr", "changes",
             "request_id", "client_ip", "prev_hash")


def _hash(content):
    body = json.dumps(content, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)
    return hashlib.sha256(body.encode()).hexdigest()


def _v1(event):
    content = {name: getattr(event, name) for name in V1_FIELDS}
    return {**content, "org": event.org_id, "seq": event.seq, "actor": event.actor_id,
            "created_at": event.created_at.isoformat()}


def _v2(event):
    return {**_v1(event), "public_id": str(event.public_id)}


def rehash_with_public_id(apps, schema_editor):
    AuditEvent = apps.get_model("orgs", "AuditEvent")
    AuditChainHead = apps.get_model("orgs", "AuditChainHead")
    for head in AuditChainHead.objects.order_by("org_id"):
        old_prev = new_prev = GENESIS_HASH
        events = AuditEvent.objects.filter(org_id=head.org_id).order_by("seq")
        for event in events.iterator(chunk_size=2000):
            if event.prev_hash != old_prev or _hash(_v1(event)) != event.hash:
                raise RuntimeError(
                    f"The audit chain of org {head.org_id} is broken at event #{event.seq}; "
                    "run `manage.py verify_audit_chain` on the previous release and "
                    "investigate before migrating (the re-hash would hide the break).")
            old_prev, event.prev_hash = event.hash, new_prev
            new_prev = _hash(_v2(event))
            events.filter(pk=event.pk).update(prev_hash=event.prev_hash, hash=new_prev)
        if head.last_hash != old_prev:
            raise RuntimeError(f"The audit chain of org {head.org_id} lost its newest events; "
                               "investigate before migrating.")
        AuditChainHead.objects.filter(pk=head.pk).update(last_hash=new_prev)


TABLES = ("orgs_auditevent", "orgs_auditcheckpoint")
PG_INSTALL = """
CREATE FUNCTION orgs_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit log rows are append-only: % on % refused', TG_OP, TG_TABLE_NAME
    USING HINT = 'docs/audit-log.md';
END $$;
""" + "".join(f"""
CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t}
  FOR EACH ROW EXECUTE FUNCTION orgs_audit_append_only();
""" for t in TABLES)
PG_REMOVE = "".join(f"DROP TRIGGER IF EXISTS {t}_append_only ON {t};\n" for t in TABLES) \
    + "DROP FUNCTION IF EXISTS orgs_audit_append_only();"
SQLITE_INSTALL = [
    f"CREATE TRIGGER {t}_no_{op.lower()} BEFORE {op} ON {t} BEGIN "
    f"SELECT RAISE(ABORT, 'audit log rows are append-only: {op} on {t} refused'); END;"
    for t in TABLES for op in ("UPDATE", "DELETE")]
SQLITE_REMOVE = [f"DROP TRIGGER IF EXISTS {t}_no_{op.lower()};"
                 for t in TABLES for op in ("UPDATE", "DELETE")]


def _run(schema_editor, statements):
    for statement in statements:
        schema_editor.execute(statement, params=None)  # no placeholders: keep the %s


def install_append_only_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        _run(schema_editor, [PG_INSTALL])
    elif vendor == "sqlite":
        _run(schema_editor, SQLITE_INSTALL)


def remove_append_only_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        _run(schema_editor, [PG_REMOVE])
    elif vendor == "sqlite":
        _run(schema_editor, SQLITE_REMOVE)


class Migration(migrations.Migration):

    dependencies = [
        ('orgs', '0009_personal_token_sso_org_ids'),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditCheckpoint',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('seq', models.PositiveBigIntegerField()),
                ('hash', models.CharField(max_length=64)),
                ('signed_at', models.DateTimeField()),
                ('key_id', models.CharField(help_text="The signing key's fingerprint.", max_length=16)),
                ('signature', models.CharField(help_text='Base64 Ed25519 signature.', max_length=100)),
                ('org', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, to='orgs.organization')),
            ],
            options={
                'ordering': ['-seq'],
                'constraints': [models.UniqueConstraint(fields=('org', 'seq'), name='audit_checkpoint_org_seq_unique')],
            },
        ),
        # Back to the old formula is not offered: the triggers go, the hashes stay.
        migrations.RunPython(rehash_with_public_id, migrations.RunPython.noop),
        migrations.RunPython(install_append_only_triggers, remove_append_only_triggers),
    ]
