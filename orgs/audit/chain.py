"""Appending to an org's audit chain (record_event) and walking it (chain_problem).

Every state-changing service calls record_event() inside its own transaction, so a
change and its event commit or roll back together. Each event stores the hash of its
content and the previous event's hash; AuditChainHead holds the last (seq, hash) per
org and is locked with SELECT ... FOR UPDATE while an event is appended, so concurrent
writers queue up instead of forking the chain. The chain alone catches an edit, a gap
and a cut tail; signed checkpoints (checkpoints.py) catch an edit whose later hashes
and head were recomputed, and a cut tail with the head moved back.
"""

import ipaddress
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.utils import timezone

from orgs.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from orgs.context import client_ip_var, request_id_var


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


def chain_problem(org, *, after_seq: int = 0, after_hash: str = GENESIS_HASH,
                  keep: frozenset = frozenset()) -> tuple[str | None, dict[int, str]]:
    """Walk org's chain from the event after (after_seq, after_hash) to the head.

    Returns (a sentence naming the first broken event or None, {seq: hash} of the events
    whose seq is in keep, for comparing with checkpoints). Read-only; anyone may call it.
    """
    expected_prev, expected_seq, kept = after_hash, after_seq + 1, {}
    events = (AuditEvent.objects.for_org(org).filter(seq__gt=after_seq).order_by("seq")
              .iterator(chunk_size=2000))
    for event in events:
        if event.seq != expected_seq:
            return f"event #{expected_seq} is missing (the next event is #{event.seq})", kept
        if event.prev_hash != expected_prev:
            return f"event #{event.seq} does not link to event #{event.seq - 1}", kept
        if event.compute_hash() != event.hash:
            return (f"event #{event.seq} ({event.action}, id {event.public_id}) was altered: "
                    "its content no longer matches its hash"), kept
        if event.seq in keep:
            kept[event.seq] = event.hash
        expected_prev, expected_seq = event.hash, expected_seq + 1
    head = AuditChainHead.objects.for_org(org).first()
    last = expected_seq - 1
    if head and head.seq < last:
        return (f"the chain head is at #{head.seq}, behind event #{last}: "
                "it was moved back"), kept
    if head and head.seq > last:
        return f"events after #{last} are missing (the chain head is at #{head.seq})", kept
    if head and head.last_hash != expected_prev:
        return f"the chain head does not match event #{last} (the head was changed)", kept
    return None, kept
