"""Build one org's compiled decision index from the database, in six queries: rows (with
their credential bindings and fallback), their approved models, the renewals waiting for
their re-signatures, active deny rules, the spend counters of this and last month, and the
org's decision log setting."""

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from approvals.decisions.engine import DenyFact, RowFact, compile_index, period_keys
from approvals.decisions.models import SpendCounter
from approvals.models import ApprovalSettings, DenyRule, PolicyRow, RenewalReview
from approvals.workflow import Status

# Rows that can allow, or explain a deny better than "no matching row". Finished rows
# count for a month after they finished, then only "no matching row" remains (both deny).
LIVE = (Status.ACTIVE, Status.RENEWAL_DUE, Status.SUSPENDED, Status.IN_REVIEW)
FINISHED = (Status.REVOKED, Status.EXPIRED)
FINISHED_KEPT = timedelta(days=31)

ROW_FIELDS = ("pk", "public_id", "project_id", "environment_id", "caller_id", "allowed_actions",
              "data_classes", "status", "monthly_budget", "daily_cap", "cutoff_behaviour",
              "renewal_date", "activated_at", "api_key__lineage",
              "workload_identity__public_id", "fallback_row__public_id")


def load_index(org_id, *, version=None):
    now = timezone.now()
    selected = PolicyRow.objects.for_org(org_id).filter(
        Q(status__in=LIVE) | Q(status__in=FINISHED, status_changed_at__gte=now - FINISHED_KEPT))
    rows = list(selected.values_list(*ROW_FIELDS))
    through = PolicyRow.approved_models.through
    models: dict[int, set] = {}
    # A subquery, not a list of ids: SQLite caps the number of query parameters.
    for row_pk, platform, model_id in through.objects.filter(
            policyrow__in=selected.values("pk")).values_list(
            "policyrow_id", "catalogentry__platform", "catalogentry__model_id"):
        models.setdefault(row_pk, set()).add((platform, model_id))
    # A renewal proposed but not yet re-signed already wrote the new date on the row; until
    # the three sign it, the row holds only until its previous date (review.renews_from).
    holds_until = dict(RenewalReview.objects.for_org(org_id).awaiting_signatures().filter(
        renews_from__isnull=False).values_list("row_id", "renews_from"))
    facts = []
    for (pk, public_id, project, environment, caller, actions, data_classes, status, budget,
         cap, cutoff, renewal, activated, key, identity, fallback) in rows:
        facts.append(RowFact(
            id=str(public_id), project=project, environment=environment, caller=caller,
            models=frozenset(models.get(pk, ())), actions=frozenset(actions),
            data_classes=frozenset(data_classes), status=status, monthly_budget=budget,
            daily_cap=cap, cutoff=cutoff, renewal_date=holds_until.get(pk, renewal),
            activated_at=activated,
            # The bound key's lineage, not its own id: the row keeps covering the key's
            # successors after rotation. A lineage never changes, so rotating a key needs
            # no rebuild of the index (only the credential cache is invalidated).
            api_key=str(key) if key else None,
            workload_identity=str(identity) if identity else None,
            fallback=str(fallback) if fallback else None))
    rules = [DenyFact(id=str(public_id), platform=platform, model_id=model_id, action=action,
                      data_class=data_class, project=project, environment=environment,
                      reason=reason)
             for public_id, platform, model_id, action, data_class, project, environment, reason
             in DenyRule.objects.for_org(org_id).filter(active=True).values_list(
                 "public_id", "platform", "model_id", "action", "data_class", "project_id",
                 "environment_id", "reason")]
    _, last_month = period_keys(now.replace(day=1) - timedelta(days=1))
    counters = SpendCounter.objects.for_org(org_id).filter(period_key__gte=last_month)
    spend = {(str(row), key): amount for row, key, amount in counters.values_list(
        "row__public_id", "period_key", "amount")}
    index = compile_index(facts, rules, spend, version=version)
    index.log_rate, index.log_sampled = _log_setting(org_id)
    return index


def _log_setting(org_id) -> tuple[float, bool]:
    """(share of decisions to record, is it a sample) from the org's ApprovalSettings; no
    row means the model's defaults (sampled, 10 %)."""
    Mode = ApprovalSettings.DecisionLog
    row = ApprovalSettings.objects.for_org(org_id).values_list(
        "decision_log", "decision_log_sample_percent").first()
    if row is None:
        defaults = ApprovalSettings()
        row = (defaults.decision_log, defaults.decision_log_sample_percent)
    mode, percent = row
    if mode == Mode.FULL:
        return 1.0, False
    if mode == Mode.SAMPLED:
        return min(percent, 100) / 100, True
    return 0.0, False
