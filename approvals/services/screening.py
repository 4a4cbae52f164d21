"""The screen step: are the row's models in the current catalog, available, and able to
serve every requested action (evidence/families.py's family -> actions table)?"""

from django.core.exceptions import ValidationError
from django.db.models import Q

from evidence.families import can_serve
from evidence.importers.common import Availability
from evidence.models import CatalogEntry, CatalogSnapshot


def current_snapshots(*, org, source_names) -> dict[str, CatalogSnapshot]:
    """The current snapshot of each catalog source: its newest by catalog date, then by
    import time (one query). A model is screened against the newest snapshot of the source
    it was chosen from, so an older litellm entry is judged by the newest litellm import,
    not by another source that never listed it."""
    current: dict[str, CatalogSnapshot] = {}
    qs = (CatalogSnapshot.objects.for_org(org).filter(source_name__in=set(source_names))
          .order_by("-snapshot_date", "-imported_at"))
    for snapshot in qs:
        current.setdefault(snapshot.source_name, snapshot)
    return current


def screen(*, org, row) -> dict:
    """Findings per approved model (three queries). Returns {"models": [...], "ok": bool};
    each finding names the snapshot used, the matching current entry (same platform, model
    id and region), its availability, and which requested actions it can serve."""
    entries = list(row.approved_models.select_related("snapshot"))
    current = current_snapshots(org=org, source_names=[e.snapshot.source_name for e in entries])
    match = Q(pk__in=[])
    for e in entries:
        match |= Q(snapshot=current[e.snapshot.source_name], platform=e.platform,
                   model_id=e.model_id, region=e.region)
    found = {(c.snapshot_id, c.platform, c.model_id, c.region): c
             for c in CatalogEntry.objects.for_org(org).filter(match)}
    findings = []
    for e in entries:
        snapshot = current[e.snapshot.source_name]
        now = found.get((snapshot.pk, e.platform, e.model_id, e.region))
        actions = {a: bool(now and can_serve(now.family_list, a)) for a in row.allowed_actions}
        problems = []
        if now is None:
            problems.append(f"not in the current {snapshot} catalog")
        elif now.availability != Availability.AVAILABLE:
            problems.append(f"is {now.get_availability_display().lower()}")
        if now is not None and (cannot := [a for a, ok in actions.items() if not ok]):
            problems.append(f"cannot serve {', '.join(sorted(cannot))}")
        findings.append({
            "entry": str(e.public_id), "key": e.key, "model_id": e.model_id,
            "snapshot": str(snapshot.public_id), "snapshot_label": str(snapshot),
            "current_entry": str(now.public_id) if now else None,
            "availability": now.availability if now else None, "actions": actions,
            "problems": problems,
        })
    return {"models": findings, "ok": all(not f["problems"] for f in findings)}


def screening_errors(findings: dict) -> ValidationError:
    """One field error naming every model that failed and why."""
    lines = [f"{f['key']}: {'; '.join(f['problems'])}" for f in findings["models"]
             if f["problems"]]
    return ValidationError({"approved_models": lines})
