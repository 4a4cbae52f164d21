"""The audit log: AuditEvent, its per-org hash chain, and record_event().

Every state-changing service calls record_event() inside its own transaction, so a
change and its event commit or roll back together. Events are append-only through the
ORM: updating or deleting one raises. Each event stores the hash of its content and the
previous event's hash; AuditChainHead holds the last (seq, hash) per org and is locked
with SELECT ... FOR UPDATE while an event is appended, so concurrent writers queue up
instead of forking the chain.
"""

import hashlib
import ipaddress
import json
import uuid

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models
from django.utils import timezone

from orgs.context import client_ip_var, request_id_var
from orgs.scoping import OrgScopedQuerySet

GENESIS_HASH = "0" * 64


class AppendOnlyError(Exception):
    """Raised when code tries to change or delete an audit event."""


class AuditEventQuerySet(OrgScopedQuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Audit events are append-only")

    def delete(self):
        raise AppendOnlyError("Audit events are append-only")

    _raw_delete = delete


class AuditEvent(models.Model):
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

    objects = AuditEventQuerySet.as_manager()

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

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("Audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit events are append-only")

    def content(self) -> dict:
        """The hashed content: everything but the hash itself."""
        return {
            "org": self.org_id,
            "seq": self.seq,
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


def _normalise(changes: dict | None) -> dict:
    # Round-trip through JSON so that what is hashed equals what the database returns.
    return json.loads(json.dumps(changes or {}, cls=DjangoJSONEncoder))


def _clean_ip(value: str | None) -> str | None:
    # Store the canonical spelling, which is also what the database hands back.
    try:
        return str(ipaddress.ip_address(value)) if value else None
    except ValueError:
        return None


def diff(before: dict, after: dict) -> dict:
    """{field: [old, new]} for the fields whose value changed."""
    return {k: [before.get(k), after.get(k)] for k in after if before.get(k) != after.get(k)}


def record_event(*, org, actor, action: str, obj=None, changes: dict | None = None,
                 object_type: str = "", object_id: str = "", object_repr: str = ""):
    """Append one event to org's audit chain. Must run inside the caller's transaction.

    actor is a Membership, a User, or None for the system (tasks, commands).
    """
    if not connection.in_atomic_block:
        raise RuntimeError("record_event must run inside the service's transaction")
    user = getattr(actor, "user", actor)
    if obj is not None:
        object_type = object_type or obj._meta.model_name
        object_id = object_id or str(getattr(obj, "public_id", None) or obj.pk)
        object_repr = object_repr or str(obj)[:200]
    head, _ = AuditChainHead.objects.for_org(org).select_for_update().get_or_create(org=org)
    event = AuditEvent(
        org=org,
        seq=head.seq + 1,
        actor=user,
        actor_label=getattr(user, "email", "") or "",
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_repr=object_repr,
        changes=_normalise(changes),
        created_at=timezone.now(),
        request_id=request_id_var.get(),
        client_ip=_clean_ip(client_ip_var.get()),
        prev_hash=head.last_hash,
    )
    event.hash = event.compute_hash()
    event.save()
    head.seq, head.last_hash = event.seq, event.hash
    head.save(update_fields=["seq", "last_hash"])
    return event


def verify_chain(org) -> str | None:
    """Walk org's chain; return a sentence naming the first broken event, or None."""
    expected_prev, expected_seq = GENESIS_HASH, 1
    events = AuditEvent.objects.for_org(org).order_by("seq").iterator(chunk_size=2000)
    for event in events:
        if event.seq != expected_seq:
            return f"event #{expected_seq} is missing (the next event is #{event.seq})"
        if event.prev_hash != expected_prev:
            return f"event #{event.seq} does not link to event #{event.seq - 1}"
        if event.compute_hash() != event.hash:
            return (f"event #{event.seq} ({event.action}, id {event.public_id}) was altered: "
                    "its content no longer matches its hash")
        expected_prev, expected_seq = event.hash, expected_seq + 1
    head = AuditChainHead.objects.for_org(org).first()
    last = expected_seq - 1
    if head and (head.seq != last or head.last_hash != expected_prev):
        return f"events after #{last} are missing (the chain head is at #{head.seq})"
    return None
