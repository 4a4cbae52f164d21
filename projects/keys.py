"""Services for team API keys: create, rotate, revoke, report a leak, expire.

Each is atomic, writes its audit event and emits its notification event (orgs.events) in
the same transaction, and calls credentials_changed() so that every process stops
honouring a dead secret on its next request. A secret is returned by key_create and
key_rotate only; it never reaches an audit event, an event payload or a log line.
"""

from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from orgs.audit import record_event
from orgs.events import NotificationEvent, event_emit
from orgs.models import Membership
from orgs.reminders import reminder_send
from orgs.services import security_policy_get
from projects.credentials import credentials_changed
from projects.models import ApiKey, Caller, Environment, Project
from projects.permissions import can_hold_keys, can_manage_keys, can_revoke_key
from projects.secrets import LIVE, TEST, hash_secret, kind_of, new_secret, visible_prefix

# Overlap windows offered when rotating: the old secret keeps working this long.
OVERLAPS = {0: "None: the old secret stops now", 3600: "1 hour", 86400: "24 hours",
            7 * 86400: "7 days"}
EXPIRY_BATCH = 500
Severity = NotificationEvent.Severity


def _facts(key: ApiKey) -> dict:
    """What audit events and notifications say about a key: never its secret."""
    return {"name": key.name, "prefix": key.prefix, "project": str(key.project.public_id),
            "environment": key.environment.name, "tier": key.environment.tier,
            "caller": key.caller.name, "expires_at": key.expires_at}


def _days(org, expires_in_days) -> int:
    maximum = security_policy_get(org=org).max_api_key_days
    days = maximum if expires_in_days in (None, "") else expires_in_days
    if not isinstance(days, int) or not 1 <= days <= maximum:
        raise ValidationError({"expires_in_days": f"A key lives 1 to {maximum} days in this "
                                                  "organization (its security policy)."})
    return days


def _mint(*, org, environment, caller, name, created_by, expires_at, rotated_from=None):
    secret = new_secret(LIVE if environment.tier == Environment.Tier.PRODUCTION else TEST)
    key = ApiKey(org=org, project=environment.project, environment=environment, caller=caller,
                 name=name, prefix=visible_prefix(secret), secret_hash=hash_secret(secret),
                 created_by=created_by, expires_at=expires_at, rotated_from=rotated_from,
                 lineage=rotated_from.lineage if rotated_from else None)
    key.full_clean(exclude=["secret_hash", "rotated_from", "lineage"])
    key.save()
    return key, secret


@transaction.atomic
def key_create(*, org, actor: Membership, project: Project, environment: Environment,
               caller: Caller, name: str = "", expires_in_days: int | None = None):
    """Members who may manage keys of `environment` (projects.permissions.can_manage_keys)
    create a key for one caller of the same project; returns (key, secret) and the secret
    is never available again. Expiry is capped by the org's max_api_key_days. Audits and
    emits key.created."""
    for obj in (project, environment, caller):
        assert obj.org_id == org.pk, "objects must come from the org's selectors"
    if environment.project_id != project.pk:
        raise ValidationError({"environment": "Choose an environment of this project."})
    if caller.project_id != project.pk:
        raise ValidationError({"caller": "Choose a caller of this project."})
    if not can_manage_keys(actor, environment):
        raise PermissionDenied(f"You cannot create keys for {environment.tier} environments "
                               "of this project.")
    if not can_hold_keys(caller.owner):
        raise ValidationError({"caller": "This caller's owner has a reviewer role "
                                         f"({caller.owner.get_role_display()}), which never "
                                         "holds a key. Give the caller another owner."})
    days = _days(org, expires_in_days)
    name = (name or "").strip() or f"{caller.name} {environment.name}"
    key, secret = _mint(org=org, environment=environment, caller=caller, name=name,
                        created_by=actor.user, expires_at=timezone.now() + timedelta(days=days))
    facts = _facts(key)
    record_event(org=org, actor=actor, action="key.created", obj=key,
                 changes={k: [None, v] for k, v in facts.items()})
    event_emit(org=org, kind="key.created", subject=key,
               payload={**facts, "created_by": actor.user.email})
    # No credentials_changed(): nobody can have presented (and cached as unknown) a secret
    # that did not exist yet, so no process holds a stale answer about it.
    return key, secret


def overlap_end(key: ApiKey, overlap_seconds: int, now=None):
    """When the old secret of `key` stops if it is rotated now with this overlap: the end
    of the overlap, or the key's own expiry when that comes first. What key_rotate writes
    and what the rotate confirmation says (never the successor's expiry)."""
    now = now or timezone.now()
    return min(key.expires_at, now + timedelta(seconds=overlap_seconds))


def _lock(org, key) -> ApiKey:
    return (ApiKey.objects.for_org(org).select_for_update(of=("self",))
            .select_related("project", "environment", "caller").get(pk=key.pk))


@transaction.atomic
def key_rotate(*, org, actor: Membership, key: ApiKey, overlap_seconds: int):
    """Issue a successor of an active key (same project, environment, caller and lifetime,
    capped by policy); the old secret keeps working for overlap_seconds (one of OVERLAPS),
    then stops. The successor inherits the key's lineage, so approval rows bound to the
    key cover it at once. Returns (successor, secret). Audits key.rotated on the old key
    and key.created on the new one, each naming predecessor and successor (public id and
    prefix), the overlap end and the lineage; emits key.rotated."""
    key = _lock(org, key)
    if not can_manage_keys(actor, key.environment):
        raise PermissionDenied("You cannot rotate keys of this environment.")
    if overlap_seconds not in OVERLAPS:
        raise ValidationError({"overlap_seconds": "Choose one of the offered overlap windows."})
    if key.status != ApiKey.Status.ACTIVE:
        raise ValidationError({"key": f"This key is {key.status}; only "
                                      "an active key can be rotated."})
    now = timezone.now()
    maximum = timedelta(days=security_policy_get(org=org).max_api_key_days)
    lifetime = min(key.expires_at - key.created_at, maximum)
    successor, secret = _mint(org=org, environment=key.environment, caller=key.caller,
                              name=key.name, created_by=actor.user, expires_at=now + lifetime,
                              rotated_from=key)
    old_expiry = key.expires_at
    key.rotated_at, key.expires_at = now, overlap_end(key, overlap_seconds, now)
    key.save(update_fields=["rotated_at", "expires_at"])
    lineage = str(key.lineage)
    record_event(org=org, actor=actor, action="key.rotated", obj=key, changes={
        "expires_at": [old_expiry, key.expires_at], "overlap_seconds": [None, overlap_seconds],
        "successor": [None, str(successor.public_id)],
        "successor_prefix": [None, successor.prefix], "lineage": [None, lineage]})
    record_event(org=org, actor=actor, action="key.created", obj=successor, changes={
        **{k: [None, v] for k, v in _facts(successor).items()},
        "rotated_from": [None, str(key.public_id)],
        "rotated_from_prefix": [None, key.prefix], "lineage": [None, lineage]})
    event_emit(org=org, kind="key.rotated", subject=key, payload={
        **_facts(key), "successor": str(successor.public_id),
        "successor_prefix": successor.prefix, "overlap_seconds": overlap_seconds})
    credentials_changed()
    return successor, secret


@transaction.atomic
def key_revoke(*, org, actor: Membership, key: ApiKey, reason: str) -> ApiKey:
    """Revoke a key at once, with a reason. Allowed to whoever may manage its environment's
    keys and to security reviewers. Audits key.revoked; emits key.revoked (warning)."""
    key = _lock(org, key)
    if not can_revoke_key(actor, key):
        raise PermissionDenied("You cannot revoke keys of this environment.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the key is revoked; the audit log keeps it."})
    if key.revoked_at:
        raise ValidationError({"key": "This key is already revoked."})
    key.revoked_at, key.revoked_by, key.revoked_reason = timezone.now(), actor.user, reason[:500]
    key.save(update_fields=["revoked_at", "revoked_by", "revoked_reason"])
    record_event(org=org, actor=actor, action="key.revoked", obj=key,
                 changes={"revoked_at": [None, key.revoked_at],
                          "reason": [None, key.revoked_reason]})
    event_emit(org=org, kind="key.revoked", subject=key, severity=Severity.WARNING,
               payload={**_facts(key), "reason": key.revoked_reason,
                        "revoked_by": actor.user.email})
    credentials_changed()
    return key


@transaction.atomic
def key_report_leaked(*, actor: Membership, secret: str) -> ApiKey | None:
    """Any member presents a secret they found exposed: the key is revoked at once and
    security is told (key.leaked, critical). Returns the key when it is the actor's org's,
    None when it belonged to another org (revoked there by the system; nothing about it is
    shown to the reporter). Audits key.leaked in the key's org."""
    secret = (secret or "").strip()
    if kind_of(secret) is None or not secret.startswith("gvk_"):
        raise ValidationError({"secret": "This is not a governance API key: keys look like "
                                         "gvk_live_… or gvk_test_… and carry a checksum."})
    # Global lookup by hash: holding the secret is what proves the leak, whoever reports it.
    key = (ApiKey.objects.select_for_update(of=("self",))
           .select_related("org", "project", "environment", "caller")
           .filter(secret_hash=hash_secret(secret)).first())
    if key is None:
        raise ValidationError({"secret": "No key has this secret. It may have been deleted, or "
                                         "it was never issued here."})
    own = key.org_id == actor.org_id
    now = timezone.now()
    changes = {"reported_by": [None, actor.user.email if own else "another organization"]}
    if key.revoked_at is None:
        key.revoked_at, key.revoked_reason = now, "Reported as leaked"
        key.revoked_by = actor.user if own else None
        key.save(update_fields=["revoked_at", "revoked_by", "revoked_reason"])
        changes["revoked_at"] = [None, now]
    record_event(org=key.org, actor=actor if own else None, action="key.leaked", obj=key,
                 changes=changes)
    event_emit(org=key.org, kind="key.leaked", subject=key, severity=Severity.CRITICAL,
               payload={**_facts(key), "reported_by": changes["reported_by"][1]})
    credentials_changed()
    return key if own else None


# Days before expiry at which a key's creator and security are reminded.
REMINDER_DAYS = (14, 7, 1)


@transaction.atomic
def key_remind_expiring(*, org, now=None, batch_size: int = EXPIRY_BATCH) -> int:
    """Beat scan: remind about keys that expire within 14, 7 or 1 days (the nearest of
    those marks only, so a key created with 5 days to live gets the 7-day reminder and then
    the 1-day one). Each (key, mark) is sent once, whoever runs the scan
    (orgs.reminders). Rotated and revoked keys are left alone. Returns how many it sent."""
    now = now or timezone.now()
    horizon = now + timedelta(days=max(REMINDER_DAYS))
    keys = (ApiKey.objects.for_org(org)
            .filter(expires_at__gt=now, expires_at__lte=horizon, revoked_at__isnull=True,
                    rotated_at__isnull=True)
            .select_related("project", "environment", "caller").order_by("expires_at"))
    sent = 0
    for key in keys[:batch_size]:
        left = key.expires_at - now
        mark = min(d for d in REMINDER_DAYS if left <= timedelta(days=d))
        audience = [key.created_by_id] if key.created_by_id else []
        sent += reminder_send(
            org=org, subject=key, kind="key.expiring", period=f"{mark}d",
            payload={**_facts(key), "days_left": max(left.days, 0), "audience": audience},
            severity="warning" if mark == 1 else "info")
    return sent


@transaction.atomic
def key_expire_due(*, org, now=None, batch_size: int = EXPIRY_BATCH) -> int:
    """Beat sweep: for each key of org that expired (and was not revoked) and has not been
    reported yet, audit key.expired (actor: the system) and emit key.expired. Claims each
    key with a conditional UPDATE, so a concurrent or repeated run reports it once."""
    now = now or timezone.now()
    # A rotated key's end of overlap is planned, not news: only unrotated keys count.
    due = ApiKey.objects.for_org(org).filter(expires_at__lte=now, revoked_at__isnull=True,
                                             rotated_at__isnull=True,
                                             expiry_notified_at__isnull=True)
    keys = list(due.select_related("project", "environment", "caller")
                .order_by("pk")[:batch_size])
    done = 0
    for key in keys:
        if not due.filter(pk=key.pk).update(expiry_notified_at=now):
            continue
        record_event(org=org, actor=None, action="key.expired", obj=key,
                     changes={"expires_at": key.expires_at})
        event_emit(org=org, kind="key.expired", subject=key, payload=_facts(key))
        done += 1
    return done
