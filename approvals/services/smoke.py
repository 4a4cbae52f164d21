"""Route smoke tests of a row: start a run (smoke_run_start), and the Celery task's body
that sends each synthetic request and records its result as evidence (smoke_run_execute).

What is sent: for each allowed action of the row that has a synthetic request
(evidence/gateway_client.py: chat, streaming chat, responses, embeddings, image, tool
calls), one request per approved model that can serve it (the catalog's family table),
then the same for the fallback row's models (the actions both rows allow), then the
rollback test: the chat request to the fallback row's first model that serves chat (or
responses, or streaming chat). Each result becomes an EvidenceItem (smoke_test with its
action, or rollback_test) collected by the system and attached to the row; its content
says "passed" and carries the run's id, so the checklist judges a run's tests of one
action together (approvals/checklist.py).

Idempotent: a run claims itself with a conditional update; each result is unique per
(run, position), so a redelivered task (acks_late) continues where the dead worker
stopped, and a finished run is never run again.
"""

import logging
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import F, Prefetch, Q
from django.urls import reverse
from django.utils import timezone

from approvals.findings import finding_raise
from approvals.models import Action, Finding, PolicyRow, RowEvidence, SmokeResult, SmokeRun
from approvals.permissions import _EVIDENCE_CLOSED, can_run_smoke_tests
from approvals.services.rows import lock_row, require_member
from evidence.families import can_serve
from evidence.gateway import check_gateway_url, gateway_config_get, gateway_key
from evidence.gateway_client import SUPPORTED, probe
from evidence.items import evidence_item_collect_system
from evidence.models import CatalogEntry, EvidenceItem
from orgs.audit import record_event
from orgs.crypto import DecryptionError
from orgs.events import event_emit

logger = logging.getLogger(__name__)

K = EvidenceItem.Kind
# A running run whose heartbeat is this old lost its worker: a redelivered task takes it
# over. Longer than the longest request (MAX_TIMEOUT, 120 s), so a live run is never
# taken twice.
STALE_AFTER = timedelta(minutes=5)
ROLLBACK_ACTIONS = (Action.CHAT, Action.RESPONSES, Action.CHAT_STREAM)
ACTIVE = (SmokeRun.Status.QUEUED, SmokeRun.Status.RUNNING)


def _step(kind, action, entry, fallback) -> dict:
    return {"kind": kind, "action": action, "model": entry.model_id,
            "entry": str(entry.public_id), "fallback": fallback}


def _label(action) -> str:
    return Action(action).label if action in Action.values else action


def smoke_plan(row: PolicyRow) -> tuple[list[dict], list[str]]:
    """The requests a run of row sends, in order, and notes on what it cannot test. The
    row comes with approved_models and fallback_row__approved_models prefetched."""
    plan, notes = [], []
    models = list(row.approved_models.all())
    for action in row.allowed_actions:
        if action not in SUPPORTED:
            notes.append(f"{_label(action)}: no synthetic request for this action; attach "
                         "its smoke test by hand.")
            continue
        serving = [e for e in models if can_serve(e.family_list, action)]
        if not serving:
            notes.append(f"{_label(action)}: no approved model serves it.")
        plan += [_step(K.SMOKE_TEST, action, e, False) for e in serving]
    fallback = row.fallback_row
    if fallback is None:
        notes.append("Rollback test: the row has no fallback row, so there is nothing to "
                     "switch to.")
        return plan, notes
    fb_models = list(fallback.approved_models.all())
    for action in row.allowed_actions:
        if action in SUPPORTED and action in fallback.allowed_actions:
            plan += [_step(K.SMOKE_TEST, action, e, True) for e in fb_models
                     if can_serve(e.family_list, action)]
    rollback = next(((a, e) for a in ROLLBACK_ACTIONS for e in fb_models
                     if can_serve(e.family_list, a)), None)
    if rollback is None:
        notes.append("Rollback test: no model of the fallback row serves chat.")
    else:
        plan.append(_step(K.ROLLBACK_TEST, rollback[0], rollback[1], True))
    return plan, notes


def _row_for_plan(org, row) -> PolicyRow:
    models = Prefetch("approved_models", queryset=CatalogEntry.objects.order_by(
        "platform", "model_id"))
    fb_models = Prefetch("fallback_row__approved_models", queryset=CatalogEntry.objects
                         .order_by("platform", "model_id"))
    return (PolicyRow.objects.for_org(org).select_related("fallback_row")
            .prefetch_related(models, fb_models).get(pk=row.pk))


@transaction.atomic
def smoke_run_start(*, org, actor, row: PolicyRow) -> SmokeRun:
    """The row's evidence owner, engineering owner or platform starts a smoke run of a
    row that is not finished; the task approvals.smoke_run sends its requests after
    commit. While a run of the row is queued or running, that run is returned instead of
    a second one. ValidationError when the org has no gateway ({"gateway"}) or the row has
    nothing to test ({"row"}). Audits and emits approval.smoke_run_started on the row."""
    require_member(actor, org)
    row = lock_row(org, row)
    if not can_run_smoke_tests(actor, row):
        raise PermissionDenied("Only the row's evidence owner, its engineering owner or "
                               "platform run smoke tests, and not on a revoked or expired "
                               "row.")
    active = SmokeRun.objects.for_org(org).filter(row=row, status__in=ACTIVE).first()
    if active is not None:
        return active
    if gateway_config_get(org=org) is None:
        raise ValidationError({"gateway": "No gateway is configured for smoke tests yet."})
    plan, notes = smoke_plan(_row_for_plan(org, row))
    if not plan:
        raise ValidationError({"row": "Nothing to test: " + " ".join(notes)})
    run = SmokeRun.objects.create(
        org=org, row=row, row_version=row.version, plan=plan, notes=notes, total=len(plan),
        started_by=actor, started_by_label=actor.user.email)
    record_event(org=org, actor=actor, action="approval.smoke_run_started", obj=row,
                 changes={"run": [None, str(run.public_id)], "requests": [None, len(plan)]})
    event_emit(org=org, kind="approval.smoke_run_started", subject=row,
               payload={"run": str(run.public_id), "requests": len(plan)})
    from approvals.tasks import smoke_run_task  # tasks import the services

    transaction.on_commit(lambda: smoke_run_task.delay(org.pk, run.pk))
    return run


def _claim(org, run_id) -> SmokeRun | None:
    now = timezone.now()
    runs = SmokeRun.objects.for_org(org).filter(pk=run_id)
    claimable = Q(status=SmokeRun.Status.QUEUED) | Q(
        status=SmokeRun.Status.RUNNING, heartbeat_at__lt=now - STALE_AFTER)
    if runs.filter(claimable).update(status=SmokeRun.Status.RUNNING, heartbeat_at=now) != 1:
        return None
    runs.filter(started_at__isnull=True).update(started_at=now)
    return runs.select_related("row", "row__fallback_row").get()


def smoke_run_execute(*, org, run_id: int) -> SmokeRun | None:
    """The task's body: claim the run, send each request of its plan not yet recorded
    and record it (smoke_result_record), then finish the run. Returns the run, or None
    when it is finished already or another live worker holds it. A gateway that is gone,
    refused by the SSRF rule or whose key cannot be decrypted ends the run as "could not
    run" with the reason."""
    run = _claim(org, run_id)
    if run is None:
        return None
    config = gateway_config_get(org=org)
    try:
        if config is None:
            raise ValidationError({"gateway": "No gateway is configured for smoke tests."})
        if run.row.status in _EVIDENCE_CLOSED:
            raise ValidationError({"row": f"The row is {run.row.get_status_display().lower()};"
                                          " its evidence file is closed."})
        check_gateway_url(config.base_url)
        key = gateway_key(config)
    except ValidationError as exc:
        return smoke_run_finish(org=org, run=run, error=" ".join(exc.messages))
    except DecryptionError:
        return smoke_run_finish(org=org, run=run, error="The stored gateway key cannot be "
                                "decrypted (FIELD_ENCRYPTION_KEY changed); replace the key.")
    recorded = set(SmokeResult.objects.for_org(org).filter(run=run)
                   .values_list("position", flat=True))
    try:
        for position, step in enumerate(run.plan):
            if position in recorded:
                continue
            result = probe(base_url=config.base_url, key=key, timeout=config.timeout_seconds,
                           action=step["action"], model=step["model"])
            smoke_result_record(org=org, run=run, position=position, step=step, result=result)
    except OperationalError:
        raise  # the task retries; the results so far stay and are not sent again
    except Exception:
        logger.exception("Smoke run %s stopped", run.public_id)
        return smoke_run_finish(org=org, run=run, error="The run stopped on an internal "
                                "error; start a new run.")
    return smoke_run_finish(org=org, run=run)


def _title(step, result) -> str:
    verdict = "passed" if result.passed else "failed"
    where = "fallback " if step["fallback"] else ""
    if step["kind"] == K.ROLLBACK_TEST:
        return f"Rollback test: {_label(step['action']).lower()} on {where}{step['model']} " \
               f"({verdict})"
    return f"Smoke test: {_label(step['action']).lower()} on {where}{step['model']} ({verdict})"


@transaction.atomic
def smoke_result_record(*, org, run: SmokeRun, position: int, step: dict,
                        result) -> SmokeResult | None:
    """Record one request's result (the system, inside the run's task): the SmokeResult,
    its evidence item (collected by the system) and the item's link to the row. Returns
    None when this position is recorded already (a twin delivery). Audits
    approval.smoke_tested on the row, naming the item."""
    content = {**result.as_content(), "run": str(run.public_id), "fallback": step["fallback"],
               "entry": step["entry"], "row_version": run.row_version}
    if step["kind"] == K.ROLLBACK_TEST:
        content["fallback_row"] = str(run.row.fallback_row.public_id)
    try:
        with transaction.atomic():
            smoke = SmokeResult.objects.create(
                org=org, run=run, position=position, kind=step["kind"], action=step["action"],
                model=step["model"], fallback=step["fallback"], method=result.method,
                url=result.url[:800], http_status=result.status, latency_ms=result.latency_ms,
                shape_ok=result.shape_ok, shape=result.shape[:200], usage=result.usage,
                passed=result.passed, error=result.error[:500])
    except IntegrityError:
        return None
    item = evidence_item_collect_system(
        org=org, kind=step["kind"], title=_title(step, result), content=content,
        action=step["action"] if step["kind"] == K.SMOKE_TEST else "")
    RowEvidence.objects.create(org=org, row=run.row, item=item, attached_by=None)
    smoke.item = item
    smoke.save(update_fields=["item"])
    counter = "passed_count" if result.passed else "failed_count"
    SmokeRun.objects.for_org(org).filter(pk=run.pk).update(
        progress=F("progress") + 1, heartbeat_at=timezone.now(), **{counter: F(counter) + 1})
    record_event(org=org, actor=None, action="approval.smoke_tested", obj=run.row,
                 changes={"item": [None, str(item.public_id)], "kind": [None, step["kind"]],
                          "action": [None, step["action"]], "model": [None, step["model"]],
                          "passed": [None, result.passed]})
    return smoke


@transaction.atomic
def smoke_run_finish(*, org, run: SmokeRun, error: str = "") -> SmokeRun:
    """End a run (the system): passed when every request passed, failed when one did not,
    "could not run" with `error`. A failed run raises a smoke_test_failed finding on the
    row. Audits and emits approval.smoke_run_finished (a warning unless it passed)."""
    run = (SmokeRun.objects.for_org(org).select_for_update(of=("self",))
           .select_related("row__caller", "row__environment").get(pk=run.pk))
    if run.is_done:
        return run
    if error:
        run.status, run.error = SmokeRun.Status.ERROR, error[:500]
    else:
        run.status = SmokeRun.Status.FAILED if run.failed_count else SmokeRun.Status.PASSED
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "finished_at"])
    changes = {"run": [None, str(run.public_id)], "status": [None, run.status],
               "passed": [None, run.passed_count], "failed": [None, run.failed_count]}
    record_event(org=org, actor=None, action="approval.smoke_run_finished", obj=run.row,
                 changes={**changes, **({"reason": [None, error]} if error else {})})
    event_emit(org=org, kind="approval.smoke_run_finished", subject=run.row,
               payload={"run": str(run.public_id), "status": run.status,
                        "passed": run.passed_count, "failed": run.failed_count,
                        "error": run.error},
               severity="info" if run.status == SmokeRun.Status.PASSED else "warning")
    if run.status == SmokeRun.Status.FAILED:
        finding_raise(org=org, kind=Finding.Kind.SMOKE_TEST_FAILED,
                      dedupe_key=f"smoke:{run.public_id}", row=run.row, source=run,
                      title=f"{run.failed_count} of {run.total} smoke requests failed on "
                            f"{run.row}", detail={"run": str(run.public_id)},
                      link=reverse("approvals:smoke_run", args=[
                          org.slug, run.row.public_id, run.public_id]))
    return run
