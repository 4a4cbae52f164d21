"""The audit log's tables: AuditEvent, AuditChainHead and AuditCheckpoint.

Events are append-only twice over: through the ORM (updating or deleting one raises
AppendOnlyError) and in the database itself (a trigger installed by migration
orgs.0008 refuses UPDATE and DELETE on the events and checkpoints tables, so a raw
statement fails too). Each event's hash covers every column but its row id and the hash
itself (HASHED_FIELDS) plus the previous event's hash. Checkpoints are signed copies of
a chain head (orgs/audit/checkpoints.py), also written to a file outside the database.
"""

import hashlib
import json
import uuid

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from orgs.scoping import OrgScopedQuerySet

GENESIS_HASH = "0" * 64

# The columns an event's hash covers, in its content's keys. Every concrete column but
# `id` (the row's storage address, assigned by the database after the hash is computed;
# events are addressed by (org, seq) and public_id, both covered) and `hash` itself. A
# test compares this with the model's columns, so a new column cannot go uncovered
# without someone deciding how old rows keep verifying.
HASHED_FIELDS = ("org", "seq", "public_id", "actor", "actor_label", "action", "object_type",
                 "object_id", "object_repr", "changes", "created_at", "request_id",
                 "client_ip", "prev_hash")


class AppendOnlyError(Exception):
    """Raised when code tries to change or delete an audit event or checkpoint."""


class AppendOnlyQuerySet(OrgScopedQuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Audit events are append-only")

    def delete(self):
        raise AppendOnlyError("Audit events are append-only")

    _raw_delete = delete


class AppendOnlyModel(models.Model):
    """Rows are inserted once and never saved again nor deleted through the ORM."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("Audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit events are append-only")


class AuditEvent(AppendOnlyModel):
    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT)
    seq = models.PositiveBigIntegerField()
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # No database constraint: the log outlives users, and the label keeps who it was.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
        db_constraint=False, related_name="+",
    )
    actor_label = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    request_id = models.CharField(max_length=64, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-seq"]
        constraints = [models.UniqueConstraint(fields=["org", "seq"], name="audit_org_seq_unique")]
        indexes = [
            models.Index(fields=["org", "action"]),
            models.Index(fields=["org", "created_at"]),
            models.Index(fields=["org", "object_type", "object_id"]),
        ]

    def __str__(self):
        return f"#{self.seq} {self.action} by {self.actor_label or 'system'}"

    def content(self) -> dict:
        """The hashed content: every column of HASHED_FIELDS (foreign keys as ids)."""
        return {
            "org": self.org_id,
            "seq": self.seq,
            "public_id": str(self.public_id),
            "actor": self.actor_id,
            "actor_label": self.actor_label,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "object_repr": self.object_repr,
            "changes": self.changes,
            "created_at": self.created_at.isoformat(),
            "request_id": self.request_id,
            "client_ip": self.client_ip,
            "prev_hash": self.prev_hash,
        }

    def compute_hash(self) -> str:
        body = json.dumps(self.content(), sort_keys=True, separators=(",", ":"),
                          cls=DjangoJSONEncoder)
        return hashlib.sha256(body.encode()).hexdigest()


class AuditChainHead(models.Model):
    """The last link of an org's chain; its row lock serialises appends per org."""

    org = models.OneToOneField("orgs.Organization", on_delete=models.PROTECT, primary_key=True)
    seq = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default=GENESIS_HASH)

    objects = OrgScopedQuerySet.as_manager()

    def __str__(self):
        return f"{self.org_id} at #{self.seq}"


class AuditCheckpoint(AppendOnlyModel):
    """An org's chain head (seq, hash) at signed_at, signed with the Ed25519 audit key.

    The same signed line is appended to the checkpoint file (settings.AUDIT_CHECKPOINT_FILE),
    the copy outside the database that verification compares with these rows.
    """

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT)
    seq = models.PositiveBigIntegerField()
    hash = models.CharField(max_length=64)
    signed_at = models.DateTimeField()
    key_id = models.CharField(max_length=16, help_text="The signing key's fingerprint.")
    signature = models.CharField(max_length=100, help_text="Base64 Ed25519 signature.")

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-seq"]
        constraints = [models.UniqueConstraint(fields=["org", "seq"],
                                               name="audit_checkpoint_org_seq_unique")]

    def __str__(self):
        return f"checkpoint of {self.org_id} at #{self.seq}"
