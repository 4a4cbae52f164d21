"""The obviously-correct evaluator the property tests hold the engine to. Plain lists, no
index, no shortcuts, written from the rules in engine.py's docstring, not from its code.
Tests only: it is O(rows x rules) per decision."""

from datetime import UTC
from decimal import Decimal

from approvals.decisions.engine import (
    ALLOWING_STATUSES,
    MAX_FALLBACK_DEPTH,
    REASON_PRIORITY,
    Reason,
)


def _names_model(platform, model_id, requested):
    requested = requested.strip().lower()
    return requested in (model_id.lower(), f"{platform}/{model_id}".lower())


def _rule_identity(rule, rows, rules):
    """(platform, model) of a rule, lower case; a qualified model field with no platform
    is split at its first "/" when what precedes is a platform of some row or rule."""
    platform, model = rule.platform.strip().lower(), rule.model_id.strip().lower()
    known = {p.lower() for row in rows for p, _ in row.models}
    known |= {r.platform.strip().lower() for r in rules}
    if model and not platform and "/" in model and model.split("/", 1)[0] in known:
        platform, model = model.split("/", 1)
    return platform, model


def _rule_could_name(rule, requested, rows=(), rules=()):
    platform, model = _rule_identity(rule, rows, rules)
    if not platform and not model:
        return True
    requested = requested.strip().lower()
    # Every way to read `requested`: a bare id (any platform) or "platform/id".
    readings = [(None, requested)]
    for i, char in enumerate(requested):
        if char == "/":
            readings.append((requested[:i], requested[i + 1:]))
    for read_platform, read_model in readings:
        if not model:
            # Platform-only: its qualified names, and bare ids a row approves on it.
            if read_platform == platform or (read_platform is None and any(
                    p.lower() == platform and m.lower() == read_model
                    for row in rows for p, m in row.models)):
                return True
        elif read_model == model and (
                not platform or read_platform is None or read_platform == platform):
            return True
    return False


def denied_by(rules, request, rows=()):
    for rule in sorted(rules, key=lambda r: r.id):
        if ((not rule.action or rule.action == request.action)
                and (not rule.data_class or rule.data_class == request.data_class)
                and (rule.project is None or rule.project == request.project)
                and (rule.environment is None or rule.environment == request.environment)
                and _rule_could_name(rule, request.model, rows, rules)):
            return rule
    return None


def covers(row, request):
    if row.caller != request.caller or row.environment != request.environment:
        return False
    if request.action not in row.actions or request.data_class not in row.data_classes:
        return False
    if not any(_names_model(p, m, request.model) for p, m in row.models):
        return False
    if row.api_key is not None:
        return request.credential_kind == "api_key" and request.credential == row.api_key
    if row.workload_identity is not None:
        return (request.credential_kind == "workload_token"
                and request.credential == row.workload_identity)
    return True


def problems(row, spend, now):
    """Every reason this row cannot allow (empty: it allows)."""
    found = []
    today = now.astimezone(UTC).date()
    day, month = today.isoformat(), today.isoformat()[:7]
    if row.status == "suspended":
        found.append(Reason.ROW_SUSPENDED)
    elif row.status == "revoked":
        found.append(Reason.ROW_REVOKED)
    elif row.status == "expired":
        found.append(Reason.ROW_EXPIRED)
    elif row.status not in ALLOWING_STATUSES:
        found.append(Reason.ROW_NOT_ACTIVE)
    else:
        if row.activated_at is None or now < row.activated_at:
            found.append(Reason.ROW_NOT_ACTIVE)
        elif row.renewal_date is not None and today > row.renewal_date:
            found.append(Reason.ROW_EXPIRED)
        elif row.cutoff == "block":
            if (row.daily_cap is not None
                    and spend.get((row.id, day), Decimal(0)) >= row.daily_cap):
                found.append(Reason.OVER_DAILY_CAP)
            elif spend.get((row.id, month), Decimal(0)) >= row.monthly_budget:
                found.append(Reason.OVER_MONTHLY_BUDGET)
    return found


def evaluate(rows, rules, spend, request, now):
    """(allow, reason, row id, rule id, fallback row ids) for `request` at `now`."""
    rule = denied_by(rules, request, rows)
    if rule is not None:
        return False, Reason.DENIED_BY_RULE, None, rule.id, ()
    covering = sorted((r for r in rows if covers(r, request)), key=lambda r: r.id)
    for row in covering:
        if not problems(row, spend, now):
            return True, Reason.ALLOW, row.id, None, fallback_chain(rows, rules, spend,
                                                                    request, row, now)
    worst = None
    for row in covering:
        for reason in problems(row, spend, now):
            rank = REASON_PRIORITY.index(reason)
            if worst is None or rank < worst[0]:
                worst = (rank, reason, row.id)
    if worst is None:
        return False, Reason.NO_MATCHING_ROW, None, None, ()
    return False, worst[1], worst[2], None, ()


def fallback_chain(rows, rules, spend, request, row, now):
    by_id = {r.id: r for r in rows}
    chain, seen, current = [], {row.id}, row
    while current.fallback is not None and len(chain) < MAX_FALLBACK_DEPTH:
        nxt = by_id.get(current.fallback)
        if nxt is None or nxt.id in seen:
            break
        seen.add(nxt.id)
        usable = []
        for platform, model_id in sorted(nxt.models):
            probe = type(request)(request.project, request.environment, request.caller,
                                  request.credential_kind, request.credential,
                                  f"{platform}/{model_id}", request.action,
                                  request.data_class)
            if covers(nxt, probe) and not problems(nxt, spend, now) \
                    and denied_by(rules, probe, rows) is None:
                usable.append(probe.model)
        if not usable:
            break
        chain.append((nxt.id, tuple(usable)))
        current = nxt
    return tuple(chain)
