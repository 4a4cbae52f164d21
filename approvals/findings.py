"""Findings: raise one, once (PRODUCT.md: reconciliation; issue #7).

Every rule that notices something (reconciliation of usage, catalog-change triggers,
threshold checks, evidence expiry) calls finding_raise() inside its own transaction. The
finding is unique per (org, kind, dedupe_key), so a rule that runs twice, or two workers
that run it at once, raise it once; its audit event and notification event commit with it.
"""

from django.db import IntegrityError, transaction

from approvals.models import Finding
from orgs.audit import record_event
from orgs.events import event_emit


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
