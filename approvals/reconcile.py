"""Reconciliation of usage and billing imports against the approval matrix (issue #7 item 5,
issue #8's quota thresholds). docs/findings.md lists every rule and its dedupe key.

evidence/ imports the facts (UsageRecord, BillingLine) and sends `usage_imported` once the
import has committed; the receiver here queues `approvals.reconcile_usage_import`, which
calls reconcile_import(). For the import's new usage lines it:

1. resolves each line to a project, environment and caller (from the line, else from its
   API key) and matches it to a policy row in force for them whose models cover the line's
   model (`gpt-4o`, `openai/gpt-4o`);
2. adds the matched spend to the rows' counters, one spend_add per (row, UTC day);
3. raises findings: usage no row covers, a model outside the row's scope, a key used in
   another environment than its own, calls nobody owns, and usage that differs from the
   billing lines of the same project, provider and period beyond the org's tolerance;
4. checks each row's month counter against its alert thresholds (and its day counter
   against its daily cap): one usage.threshold_crossed reminder and one spend-threshold
   finding per (row, threshold, month).

All of it runs in one transaction that first creates the import's UsageReconciliation
(unique per import): a second run, or a second worker at the same time, blocks on that
insert, then finds it taken and does nothing. So spend is counted once and every alert
fires once; findings are once per (kind, dedupe key) besides.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Prefetch, Sum
from django.dispatch import receiver
from django.urls import NoReverseMatch, reverse

from approvals.decisions.engine import period_keys
from approvals.decisions.models import SpendCounter
from approvals.decisions.spend import spend_add
from approvals.findings import finding_raise
from approvals.lint import IN_FORCE
from approvals.models import (
    DEFAULT_BILLING_TOLERANCE_PERCENT,
    Finding,
    PolicyRow,
    UsageReconciliation,
)
from approvals.selectors import approval_settings_get
from evidence.model_ids import SEPARATOR, matches, normalise
from evidence.models import BillingLine, CatalogEntry, UsageImport, UsageRecord
from evidence.signals import usage_imported
from orgs.events import NotificationEvent
from orgs.reminders import reminder_send

logger = logging.getLogger(__name__)

K = Finding.Kind
THRESHOLD_KIND = "usage.threshold_crossed"
DAILY_CAP_KIND = "usage.daily_cap_reached"


@receiver(usage_imported, dispatch_uid="approvals.reconcile")
def _on_usage_imported(sender, *, org, job, **kwargs):
    """Queue the reconciliation: a big import must not keep the import's task waiting."""
    from approvals.tasks import reconcile_usage_import_task

    reconcile_usage_import_task.delay(org.pk, job.pk)


def import_link(org, job) -> str:
    """The usage import's page (evidence:usage_import, built by the usage importers)."""
    try:
        return reverse("evidence:usage_import", args=[org.slug, job.public_id])
    except NoReverseMatch:
        return f"/o/{org.slug}/usage/imports/{job.public_id}/"


def model_matches(name: str, entry: CatalogEntry) -> bool:
    """A usage line's model names a catalog entry by its model id, with or without a
    provider prefix ("openai/gpt-4o", "gpt-4o"), normalised as everywhere else
    (evidence/model_ids.py). The usage source's own provider prefix may differ from the
    catalog platform ("openai/gpt-4o" served by an azure entry), so any first segment
    is also read as a prefix."""
    name = normalise(name)
    return matches(name, entry.platform, entry.model_id) or \
        name.split(SEPARATOR, 1)[-1] == normalise(entry.model_id)


@dataclass
class Outcome:
    records: int = 0
    matched: int = 0
    spend_adds: int = 0
    findings: int = 0
    alerts: int = 0
    skipped: bool = False

    def as_dict(self) -> dict:
        return {"records": self.records, "matched": self.matched,
                "spend_adds": self.spend_adds, "findings": self.findings,
                "alerts": self.alerts}


@dataclass
class _Context:
    org: object
    job: UsageImport
    link: str
    outcome: Outcome
    rows_by_scope: dict = field(default_factory=dict)

    def raise_(self, **kwargs):
        _, created = finding_raise(org=self.org, source=self.job, link=self.link, **kwargs)
        self.outcome.findings += int(created)


def _rows_in_force(org) -> dict:
    """(project id, environment id, caller id) -> rows in force, with their models."""
    rows = (PolicyRow.objects.for_org(org).filter(status__in=IN_FORCE)
            .select_related("project", "environment", "caller", "api_key")
            .prefetch_related(Prefetch("approved_models",
                                       queryset=CatalogEntry.objects.only(
                                           "pk", "platform", "model_id")))
            .order_by("created_at", "pk"))
    scoped = defaultdict(list)
    for row in rows:
        scoped[(row.project_id, row.environment_id, row.caller_id)].append(row)
    return scoped


def _resolve(record: UsageRecord):
    """(project, environment, caller) of a line: what the importer resolved, else what its
    API key belongs to."""
    key = record.api_key
    project = record.project or (key.project if key else None)
    environment = record.environment or (key.environment if key else None)
    caller = record.caller or (key.caller if key else None)
    return project, environment, caller


def _month(record) -> str:
    return period_keys(record.occurred_at)[1]


def _check_record(ctx: _Context, record: UsageRecord, spend: dict) -> None:
    key = record.api_key
    project, environment, caller = _resolve(record)
    month = _month(record)
    model = record.model.strip()
    if key is not None and record.environment_id and key.environment_id != record.environment_id:
        ctx.raise_(kind=K.WRONG_ENVIRONMENT, severity=Finding.Severity.CRITICAL,
                   dedupe_key=f"key:{key.public_id}:env:{record.environment.public_id}",
                   title=f"Key {key.name} ({key.environment.name}) was used in "
                         f"{record.environment.name}",
                   project=key.project,
                   detail={"key": str(key.public_id), "key_environment": key.environment.name,
                           "used_in": record.environment.name, "model": model,
                           "first_seen": record.occurred_at.isoformat()})
    if project is None or (key is None and caller is None):
        ref = ":".join([record.source, record.project_ref or "-", record.api_key_ref or "-",
                        record.caller_ref or "-"])
        what = "no project resolved" if project is None else "no key or caller resolved"
        named = record.project_ref or record.api_key_ref or record.caller_ref or "no reference"
        ctx.raise_(kind=K.UNOWNED_CALLS, dedupe_key=f"unowned:{ref}:{month}"[:200],
                   project=project, title=f"Calls nobody owns: {what} ({named})",
                   detail={"project_ref": record.project_ref, "api_key_ref": record.api_key_ref,
                           "caller_ref": record.caller_ref,
                           "environment_ref": record.environment_ref, "model": model,
                           "month": month})
        return
    candidates = ctx.rows_by_scope.get(
        (project.pk, environment.pk if environment else None, caller.pk), [])
    # A row bound to another key does not cover this one; a row bound to a key covers
    # that key's rotations (same lineage), as the decision engine does.
    candidates = [r for r in candidates if r.api_key_id is None or key is None
                  or r.api_key.lineage == key.lineage]
    env_label = environment.name if environment else (record.environment_ref or "?")
    if not candidates:
        env_part = str(environment.public_id) if environment else record.environment_ref or "-"
        ctx.raise_(kind=K.USAGE_WITHOUT_ROW, project=project, owner=caller.owner,
                   dedupe_key=f"project:{project.public_id}:env:{env_part}:"
                              f"caller:{caller.public_id}:{month}",
                   title=f"{caller.name} in {env_label} called {model} with no active row",
                   detail={"caller": caller.name, "environment": env_label, "model": model,
                           "month": month})
        return
    row = next((r for r in candidates
                if any(model_matches(model, e) for e in r.approved_models.all())), None)
    if row is None:
        row = candidates[0]
        ctx.raise_(kind=K.MODEL_OUT_OF_SCOPE, row=row,
                   dedupe_key=f"row:{row.public_id}:model:{model.lower()}:{month}"[:200],
                   title=f"{caller.name} in {env_label} called {model}, outside its row's "
                         "approved models",
                   detail={"model": model, "approved": sorted(
                       e.model_id for e in row.approved_models.all()), "month": month})
        return
    ctx.outcome.matched += 1
    if row.app_owner_id is None:
        ctx.raise_(kind=K.UNOWNED_CALLS, row=row, dedupe_key=f"row:{row.public_id}:no_app_owner",
                   owner=row.engineering_owner,
                   title=f"{caller.name} in {env_label} calls through a row with no app owner",
                   detail={"model": model})
    day = record.occurred_at.astimezone(UTC).date()
    spend[(row, day)] += record.cost_usd


def _add_spend(ctx: _Context, spend: dict) -> set:
    """One spend_add per (row, day); returns the (row, day) pairs that got spend."""
    touched = set()
    for (row, day), amount in sorted(spend.items(), key=lambda kv: (kv[0][0].pk, kv[0][1])):
        if amount <= 0:
            continue
        spend_add(org=ctx.org, row=row, amount=amount,
                  at=datetime.combine(day, time(12), tzinfo=UTC))
        ctx.outcome.spend_adds += 1
        touched.add((row, day))
    return touched


def _check_thresholds(ctx: _Context, touched: set) -> None:
    """Each row's month counters against its alert thresholds, its day counters against
    its daily cap: a reminder (exactly once per row, threshold and month) and a finding."""
    if not touched:
        return
    rows = {row.pk: row for row, _ in touched}
    keys = {k for _, day in touched for k in period_keys(
        datetime.combine(day, time(12), tzinfo=UTC))}
    counters = {(row_id, key): amount for row_id, key, amount in
                SpendCounter.objects.for_org(ctx.org).filter(row_id__in=rows, period_key__in=keys)
                .values_list("row_id", "period_key", "amount")}
    for (row_id, key), amount in sorted(counters.items()):
        row = rows[row_id]
        if len(key) == 7:
            _month_thresholds(ctx, row, key, amount)
        elif row.daily_cap and amount >= row.daily_cap:
            _alert(ctx, row, kind=DAILY_CAP_KIND, period=key, amount=amount, cap=row.daily_cap,
                   label="its daily cap", dedupe=f"row:{row.public_id}:daily_cap:{key}")


def _month_thresholds(ctx, row, month, amount):
    budget = row.monthly_budget or Decimal(0)
    if budget <= 0:
        return
    for threshold in sorted(set(row.alert_thresholds or [])):
        if amount * 100 >= budget * Decimal(threshold):
            _alert(ctx, row, kind=THRESHOLD_KIND, period=f"{threshold}%:{month}", amount=amount,
                   cap=budget, label=f"{threshold} % of its monthly budget",
                   dedupe=f"row:{row.public_id}:threshold:{threshold}:{month}",
                   threshold=threshold)


def _alert(ctx, row, *, kind, period, amount, cap, label, dedupe, threshold=None):
    blocks = row.cutoff_behaviour == PolicyRow.Cutoff.BLOCK and amount >= cap
    severity = (NotificationEvent.Severity.CRITICAL if blocks
                else NotificationEvent.Severity.WARNING)
    where = f"{row.caller.name} in {row.environment.name}"
    payload = {"row": str(row.public_id), "spent": f"{amount:.2f}", "cap": f"{cap:.2f}",
               "threshold": threshold, "blocks": blocks, "link": ctx.link,
               "audience": [m for m in (row.finance_owner_id, row.app_owner_id,
                                        row.cutoff_owner_id) if m],
               "summary": f"{where} spent {amount:.2f} USD, {label}"}
    if reminder_send(org=ctx.org, subject=row, kind=kind, period=period, payload=payload,
                     severity=severity):
        ctx.outcome.alerts += 1
    ctx.raise_(kind=K.SPEND_THRESHOLD, row=row, dedupe_key=dedupe,
               severity=Finding.Severity.CRITICAL if blocks else Finding.Severity.WARNING,
               owner=row.finance_owner or row.app_owner,
               title=f"{where} reached {label} ({amount:.2f} of {cap:.2f} USD, {period})"
                     + ("; calls are now blocked" if blocks else ""),
               detail={"spent": f"{amount:.2f}", "cap": f"{cap:.2f}", "period": period,
                       "threshold": threshold, "blocks": blocks})


def _billing_groups(org, job) -> set:
    """The (project id, provider, period start, period end) billing groups this import may
    change the comparison of: its own billing lines, or the lines whose period covers its
    usage lines' days."""
    if job.kind == UsageImport.Kind.BILLING:
        lines = BillingLine.objects.for_org(org).filter(import_job=job)
    else:
        span = UsageRecord.objects.for_org(org).filter(import_job=job).values_list(
            "occurred_at", flat=True)
        first, last = span.order_by("occurred_at").first(), span.order_by("-occurred_at").first()
        if first is None:
            return set()
        lines = BillingLine.objects.for_org(org).filter(
            period_start__lte=last.astimezone(UTC).date(),
            period_end__gte=first.astimezone(UTC).date())
    return {(p, (prov or "").lower(), s, e) for p, prov, s, e in lines.values_list(
        "project_id", "provider", "period_start", "period_end").distinct()}


def _check_billing(ctx: _Context, tolerance: Decimal) -> None:
    from projects.models import Project

    groups = _billing_groups(ctx.org, ctx.job)
    projects = Project.objects.for_org(ctx.org).in_bulk({g[0] for g in groups if g[0]})
    for project_id, provider, start, end in sorted(groups, key=str):
        billed_q = BillingLine.objects.for_org(ctx.org).filter(
            provider__iexact=provider, period_start=start, period_end=end)
        used_q = UsageRecord.objects.for_org(ctx.org).filter(
            provider__iexact=provider,
            occurred_at__gte=datetime.combine(start, time(0), tzinfo=UTC),
            occurred_at__lt=datetime.combine(end + timedelta(days=1), time(0), tzinfo=UTC))
        if project_id:
            billed_q, used_q = billed_q.filter(project_id=project_id), \
                used_q.filter(project_id=project_id)
        else:
            billed_q = billed_q.filter(project__isnull=True)
        billed = billed_q.aggregate(s=Sum("amount_usd"))["s"] or Decimal(0)
        used = used_q.aggregate(s=Sum("cost_usd"))["s"] or Decimal(0)
        difference = abs(used - billed)
        if difference == 0 or (billed > 0 and difference * 100 <= billed * tolerance):
            continue
        project = projects.get(project_id)
        share = f"{difference * 100 / billed:.1f} %" if billed else "no billing"
        scope = project.name if project else "the organization"
        ctx.raise_(kind=K.BILLING_MISMATCH, project=project,
                   dedupe_key=f"billing:{project.public_id if project else 'org'}:{provider}:"
                              f"{start}:{end}",
                   title=f"Usage of {scope} on {provider or 'unknown provider'} from {start} to "
                         f"{end} differs from billing by {difference:.2f} USD ({share})",
                   detail={"provider": provider, "period_start": start.isoformat(),
                           "period_end": end.isoformat(), "usage_usd": f"{used:.2f}",
                           "billed_usd": f"{billed:.2f}", "difference_usd": f"{difference:.2f}",
                           "tolerance_percent": f"{tolerance}"})


def reconcile_import(*, org, job: UsageImport, pause=None) -> Outcome:
    """Reconcile one committed import of org (see the module docstring). Safe to run
    twice and concurrently: the second run returns Outcome(skipped=True) and changes
    nothing. A job that has not succeeded is skipped too (it wrote no lines). pause(job
    pk), a test hook, runs just before the transaction commits."""
    if job.org_id != org.pk:
        raise ValueError("This import belongs to another organization.")
    outcome = Outcome()
    if job.status != UsageImport.Status.SUCCEEDED:
        outcome.skipped = True
        return outcome
    with transaction.atomic():
        try:
            with transaction.atomic():
                claim = UsageReconciliation.objects.create(org=org, import_job=job)
        except IntegrityError:
            outcome.skipped = True
            return outcome
        ctx = _Context(org=org, job=job, link=import_link(org, job), outcome=outcome)
        if job.kind == UsageImport.Kind.USAGE:
            ctx.rows_by_scope = _rows_in_force(org)
            records = (UsageRecord.objects.for_org(org).filter(import_job=job)
                       .select_related("api_key__project", "api_key__environment",
                                       "api_key__caller__owner", "project", "environment",
                                       "caller__owner")
                       .order_by("occurred_at", "pk"))
            spend = defaultdict(Decimal)
            for record in records.iterator(chunk_size=2000):
                outcome.records += 1
                _check_record(ctx, record, spend)
            _check_thresholds(ctx, _add_spend(ctx, spend))
        settings = approval_settings_get(org=org)
        tolerance = settings.billing_tolerance_percent
        _check_billing(ctx, DEFAULT_BILLING_TOLERANCE_PERCENT if tolerance is None
                       else Decimal(tolerance))
        claim.counts = outcome.as_dict()
        claim.save(update_fields=["counts"])
        if pause is not None:
            pause(job.pk)
    logger.info("Reconciled import %s of org %s: %s", job.public_id, org.slug, claim.counts)
    return outcome

