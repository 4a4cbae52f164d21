"""Findings: raise one, once (PRODUCT.md: reconciliation; issue #7).

Every rule that notices something (reconciliation of usage, catalog-change triggers,
threshold checks, evidence expiry) calls finding_raise() inside its own transaction. The
finding is unique per (org, kind, dedupe_key), so a rule that runs twice, or two workers
that run it at once, raise it once; its audit event and notification event commit with it.

People then handle it (finding_acknowledge, finding_resolve, finding_assign): its owner,
security reviewers and org admins (permissions.can_handle_finding). Open -> acknowledged ->
resolved, or open -> resolved; a resolved finding stays resolved (raise a new one, with the
period in its key, for things that recur).
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from approvals.models import Finding
from approvals.permissions import can_handle_finding
from approvals.workflow import InvalidTransition
from orgs.audit import record_event
from orgs.events import event_emit
from orgs.roles import PARTICIPATE


def _default_owner(row, project):
    if row is not None:
        return row.app_owner or row.engineering_owner
    return None


def finding_raise(*, org, kind: str, dedupe_key: str, title: str, detail: dict | None = None,
                  row=None, project=None, severity: str = Finding.Severity.WARNING,
                  source=None, link: str = "", owner=None) -> tuple[Finding, bool]:
    """Raise a finding once: returns (finding, created). A second call with the same
    kind and dedupe_key returns the first finding untouched (also when it was resolved:
    put the period in the key for things that may recur). The owner defaults to the row's
    app owner. Audits approval.finding_raised (actor: the system) and emits finding.raised."""
    if kind not in Finding.Kind.values:
        raise ValueError(f"Unknown finding kind {kind!r}")
    for obj in (row, project, owner):
        if obj is not None and obj.org_id != org.pk:
            raise ValueError("A finding and what it names must belong to one organization.")
    if row is not None and project is None:
        project = row.project
    source_type = source._meta.model_name if source is not None else ""
    source_id = str(getattr(source, "public_id", None) or source.pk) if source is not None \
        else ""
    with transaction.atomic():
        existing = Finding.objects.for_org(org).filter(kind=kind, dedupe_key=dedupe_key).first()
        if existing is not None:
            return existing, False
        try:
            with transaction.atomic():  # a savepoint: a racing twin must not spoil the caller
                finding = Finding.objects.create(
                    org=org, kind=kind, dedupe_key=dedupe_key[:200], title=title[:300],
                    detail=detail or {}, row=row, project=project, severity=severity,
                    source_type=source_type, source_id=source_id, link=link[:500],
                    owner=owner or _default_owner(row, project))
        except IntegrityError:
            return Finding.objects.for_org(org).get(kind=kind, dedupe_key=dedupe_key), False
        record_event(org=org, actor=None, action="approval.finding_raised", obj=finding,
                     changes={"kind": [None, kind], "title": [None, finding.title]})
        audience = [finding.owner.user_id] if finding.owner_id else []
        event_emit(org=org, kind="finding.raised", subject=finding, severity=severity,
                   payload={"finding": finding.title, "kind": kind,
                            "row": str(row.public_id) if row is not None else None,
                            "project": project.name if project is not None else None,
                            "link": finding.link, "audience": audience})
    return finding, True


def _locked(org, actor, finding) -> Finding:
    if actor is None or actor.org_id != org.pk or finding.org_id != org.pk:
        raise PermissionDenied("You are not a member of this organization.")
    locked = Finding.objects.for_org(org).select_for_update().get(pk=finding.pk)
    if not can_handle_finding(actor, locked):
        raise PermissionDenied("Only the finding's owner, security reviewers and admins "
                               "handle findings.")
    return locked


def _announce(org, actor, finding, action, changes, kind):
    record_event(org=org, actor=actor, action=f"approval.finding_{action}", obj=finding,
                 changes=changes)
    audience = [finding.owner.user_id] if finding.owner_id else []
    event_emit(org=org, kind=f"finding.{kind}", subject=finding,
               payload={"finding": finding.title, "kind": finding.kind, "state": finding.state,
                        "by": actor.user.email, "link": finding.link, "audience": audience})


@transaction.atomic
def finding_acknowledge(*, org, actor, finding) -> Finding:
    """Say that someone is on it: open -> acknowledged (InvalidTransition otherwise).
    Audits approval.finding_acknowledged and emits finding.acknowledged."""
    finding = _locked(org, actor, finding)
    if finding.state != Finding.State.OPEN:
        raise InvalidTransition(f"This finding is {finding.get_state_display().lower()}; "
                                "only an open finding is acknowledged.")
    finding.state = Finding.State.ACKNOWLEDGED
    finding.acknowledged_by, finding.acknowledged_at = actor, timezone.now()
    finding.save(update_fields=["state", "acknowledged_by", "acknowledged_at"])
    _announce(org, actor, finding, "acknowledged",
              {"state": [Finding.State.OPEN, finding.state]}, "acknowledged")
    return finding


@transaction.atomic
def finding_resolve(*, org, actor, finding, note: str) -> Finding:
    """Close a finding with a note saying what was done (required: ValidationError on
    `note`). Open or acknowledged -> resolved. Audits approval.finding_resolved, emits
    finding.resolved."""
    finding = _locked(org, actor, finding)
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": "Say what was done about it, or why it needs nothing."})
    if finding.state == Finding.State.RESOLVED:
        raise InvalidTransition("This finding is already resolved.")
    before = finding.state
    finding.state = Finding.State.RESOLVED
    finding.resolved_by, finding.resolved_at = actor, timezone.now()
    finding.resolution_note = note[:5000]
    finding.save(update_fields=["state", "resolved_by", "resolved_at", "resolution_note"])
    _announce(org, actor, finding, "resolved", {
        "state": [before, finding.state], "resolution_note": [None, finding.resolution_note]},
        "resolved")
    return finding


@transaction.atomic
def finding_assign(*, org, actor, finding, owner) -> Finding:
    """Hand a finding to another member of the org (ValidationError on `owner` for anyone
    else). Audits approval.finding_assigned, emits finding.assigned to the new owner."""
    if owner is None or owner.org_id != org.pk:
        raise ValidationError({"owner": "Choose a member of this organization."})
    if not owner.has_scope(PARTICIPATE):
        raise ValidationError({"owner": "Auditors read findings and never handle them; "
                                        "choose someone else."})
    finding = _locked(org, actor, finding)
    if finding.state == Finding.State.RESOLVED:
        raise InvalidTransition("A resolved finding keeps its owner.")
    if finding.owner_id == owner.pk:
        return finding
    before = finding.owner.user.email if finding.owner_id else None
    finding.owner = owner
    finding.save(update_fields=["owner"])
    _announce(org, actor, finding, "assigned", {"owner": [before, owner.user.email]},
              "assigned")
    return finding
