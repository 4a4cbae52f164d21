"""The decision engine (#6 item 9): a compiled, per-org index of the approval matrix and
one pure function, `evaluate(index, request, now)`, that answers allow or deny.

No Django here: facts come in as plain dataclasses (approvals/decisions/loader.py builds
them from the database), so the property tests can hammer the engine against the plain
reference evaluator (approvals/decisions/reference.py) thousands of times a second.

Semantics (docs/gateway-integration.md tells the gateway side):

- Default deny. An active org deny rule that matches the request beats any row.
- A row *covers* a request when its caller and environment are the credential's, its
  credential binding (none, one API key, or one workload identity) admits the credential
  (a row bound to a key admits every key of its rotation lineage: the successor, and the
  old key while its overlap lasts, which resolve_credential enforces),
  and it lists the model, the action and the data class.
- A covering row *allows* when its status is active or renewal due, it has been activated
  (activated_at <= now), its renewal date has not passed (renewal_date >= today), and,
  when its cutoff behaviour is "block", today's spend is below the daily cap and this
  month's spend is below the monthly budget (spend equal to the cap denies). A row whose
  cutoff is "alert only" allows over budget and says so in `warnings`.
- Several covering rows: the first allowing one by row id wins; none allowing: the deny
  names the most specific obstacle (REASON_PRIORITY) of the first row by id that has it.
- Model names: the request's `model` is the id a gateway sends ("gpt-4o"), optionally
  qualified by the catalog platform ("openai/gpt-4o", "azure/gpt-4o"). Rows, rules and the
  request are normalised by evidence/model_ids.py (case and surrounding whitespace do not
  count; ids may contain "/"). A bare id matches the approved entry on any platform; a
  qualified one only that platform. A deny rule applies when it could name the requested
  model (a bare id is denied by a rule on any platform: when in doubt, deny). A rule's
  model field holding a qualified name ("azure/gpt-4o", platform left empty) is read as
  that platform and model. A platform-only rule denies every name qualified by that
  platform and every bare id some row approves on it.
- Fallbacks never inherit approval: the chain follows fallback_row links and lists a
  fallback only while it would itself be allowed for the same credential, action and data
  class (own active row, not denied, within budget); it stops at the first that is not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_DOWN, Decimal

from evidence.model_ids import SEPARATOR, normalise, split
from evidence.model_ids import names as entry_names

ALLOWING_STATUSES = frozenset({"active", "renewal_due"})
MAX_FALLBACK_DEPTH = 5
CENT = Decimal("0.01")
MAX_REMAINING_KEPT = 100_000


class Reason:
    ALLOW = "allow"
    NO_MATCHING_ROW = "no_matching_row"
    DENIED_BY_RULE = "denied_by_rule"
    ROW_EXPIRED = "row_expired"
    ROW_SUSPENDED = "row_suspended"
    ROW_REVOKED = "row_revoked"
    ROW_NOT_ACTIVE = "row_not_active"
    OVER_DAILY_CAP = "over_daily_cap"
    OVER_MONTHLY_BUDGET = "over_monthly_budget"
    # Set by the service before the engine runs (the credential did not resolve).
    WRONG_ENVIRONMENT = "wrong_environment"
    CREDENTIAL_UNKNOWN = "credential_unknown"
    CREDENTIAL_REVOKED = "credential_revoked"
    CREDENTIAL_EXPIRED = "credential_expired"


MESSAGES = {
    Reason.ALLOW: "Allowed by row {row}.",
    Reason.NO_MATCHING_ROW: "No approval row covers this caller, model, action and data class.",
    Reason.DENIED_BY_RULE: "Denied by org deny rule {rule}: {detail}",
    Reason.ROW_EXPIRED: "Row {row} passed its renewal date or expired.",
    Reason.ROW_SUSPENDED: "Row {row} is suspended.",
    Reason.ROW_REVOKED: "Row {row} was revoked.",
    Reason.ROW_NOT_ACTIVE: "Row {row} is not active yet.",
    Reason.OVER_DAILY_CAP: "Row {row} reached its daily cap ({spent} of {cap} USD today).",
    Reason.OVER_MONTHLY_BUDGET: ("Row {row} reached its monthly budget ({spent} of {cap} USD "
                                 "this month)."),
    Reason.WRONG_ENVIRONMENT: "The credential belongs to another environment.",
    Reason.CREDENTIAL_UNKNOWN: "No such credential.",
    Reason.CREDENTIAL_REVOKED: "The credential was revoked.",
    Reason.CREDENTIAL_EXPIRED: "The credential has expired.",
}

# When no covering row allows, the deny names the first of these a row shows: the budget
# first (the "which budget blocked me" question), then status problems.
REASON_PRIORITY = (Reason.OVER_DAILY_CAP, Reason.OVER_MONTHLY_BUDGET, Reason.ROW_SUSPENDED,
                   Reason.ROW_EXPIRED, Reason.ROW_REVOKED, Reason.ROW_NOT_ACTIVE)
_RANK = {reason: i for i, reason in enumerate(REASON_PRIORITY)}


@dataclass(frozen=True, slots=True)
class RowFact:
    id: str
    project: str
    environment: str
    caller: str
    models: frozenset  # of (platform, model_id)
    actions: frozenset
    data_classes: frozenset
    status: str
    monthly_budget: Decimal
    daily_cap: Decimal | None = None
    cutoff: str = "block"  # or "alert_only"
    renewal_date: date | None = None
    activated_at: datetime | None = None
    api_key: str | None = None  # bound to this key lineage (its first key's public id)
    workload_identity: str | None = None  # bound to this identity's public id
    fallback: str | None = None  # the fallback row's id


@dataclass(frozen=True, slots=True)
class DenyFact:
    id: str
    platform: str = ""
    model_id: str = ""
    action: str = ""
    data_class: str = ""
    project: str | None = None
    environment: str | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Request:
    """What the gateway asks, after the credential resolved: who (project, environment,
    caller, credential) and what (model, action, data class)."""

    project: str
    environment: str
    caller: str
    credential_kind: str  # "api_key" or "workload_token"
    credential: str  # the key's lineage, or the token's workload identity public id
    model: str
    action: str
    data_class: str


@dataclass(frozen=True, slots=True)
class Decision:
    allow: bool
    reasons: tuple
    message: str
    row: str | None = None
    rule: str | None = None
    remaining: dict | None = None  # {"daily": Decimal|None, "monthly": Decimal}
    fallbacks: tuple = ()  # ({"row": id, "models": [...]}, ...)
    warnings: tuple = ()

    def as_dict(self) -> dict:
        remaining = None
        if self.remaining is not None:
            remaining = {k: (None if v is None else str(v)) for k, v in self.remaining.items()}
        return {"decision": "allow" if self.allow else "deny", "reasons": list(self.reasons),
                "message": self.message, "row": self.row, "rule": self.rule,
                "remaining_budget": remaining, "fallbacks": [dict(f) for f in self.fallbacks],
                "warnings": list(self.warnings)}


def deny(reason: str, **fmt) -> Decision:
    return Decision(allow=False, reasons=(reason,), message=MESSAGES[reason].format(**fmt),
                    row=fmt.get("row"), rule=fmt.get("rule"))


def model_names(models) -> frozenset:
    """Every normalised string a request may use for these (platform, model_id) pairs."""
    names = set()
    for platform, model_id in models:
        names.update(entry_names(platform, model_id))
    return frozenset(names)


def period_keys(now: datetime) -> tuple[str, str]:
    day = now.astimezone(UTC).date()
    return day.isoformat(), day.isoformat()[:7]


def _spent(spend: dict, row_id: str, key: str) -> Decimal:
    return spend.get((row_id, key), Decimal(0))


@dataclass(slots=True)
class _Rule:
    fact: DenyFact
    platform: str  # normalised; a qualified model field already split (compile_index)
    model: str  # normalised; "" with a platform: every model of that platform
    names: frozenset  # exact request strings denied; with `prefix`, or alone
    prefix: str | None  # "platform/": every qualified name of a platform-only rule
    suffix: str = ""  # "/model" of a model-only rule: the model on any platform


@dataclass(slots=True)
class OrgIndex:
    """The compiled matrix of one org: (caller, environment, action, data class) ->
    rows sorted by id, each with the model strings it answers to."""

    version: object = None
    buckets: dict = field(default_factory=dict)
    rows: dict = field(default_factory=dict)  # id -> (RowFact, names)
    rules: list = field(default_factory=list)
    spend: dict = field(default_factory=dict)  # (row id, period key) -> Decimal
    # The org's decision log setting, carried here so the hot path needs no query
    # (loader.py sets both from ApprovalSettings): the share of decisions recorded
    # (0: off, 1: every one) and whether that share is a sample.
    log_rate: float = 0.0
    log_sampled: bool = False
    # (row id, day, month) -> _remaining's answer: Decimal rounding costs microseconds,
    # and spend only changes with a new index (spend_add bumps the decision version).
    remaining: dict = field(default_factory=dict)


def _compile_rule(fact: DenyFact, platforms: frozenset, bare_by_platform: dict) -> _Rule:
    """The rule's identities normalised, a qualified model field split at a known
    platform, and the request strings it denies worked out once, not per request."""
    platform, model = normalise(fact.platform), normalise(fact.model_id)
    if model and not platform:
        platform, model = split(model, platforms)
    if platform and model:
        # Denies "platform/model" and the bare "model" (which could be that platform's).
        return _Rule(fact, platform, model, frozenset({model, platform + SEPARATOR + model}),
                     None)
    if platform:
        # Every "platform/..." name, and the bare ids rows approve on that platform.
        return _Rule(fact, platform, "", frozenset(bare_by_platform.get(platform, ())),
                     platform + SEPARATOR)
    # The model on any platform, or no model at all.
    return _Rule(fact, "", model, frozenset(), None, SEPARATOR + model if model else "")


def _compile_rules(rules, rows) -> list:
    bare_by_platform: dict = {}
    for row in rows:
        for platform, model_id in row.models:
            bare_by_platform.setdefault(normalise(platform), set()).add(normalise(model_id))
    platforms = (frozenset(bare_by_platform) | {normalise(r.platform) for r in rules}) - {""}
    return [_compile_rule(rule, platforms, bare_by_platform)
            for rule in sorted(rules, key=lambda r: r.id)]


def compile_index(rows, rules, spend=None, *, version=None) -> OrgIndex:
    index = OrgIndex(version=version, spend=dict(spend or {}))
    for row in sorted(rows, key=lambda r: r.id):
        names = model_names(row.models)
        index.rows[row.id] = (row, names)
        for action in row.actions:
            for data_class in row.data_classes:
                key = (row.caller, row.environment, action, data_class)
                index.buckets.setdefault(key, []).append((row, names))
    index.rules = _compile_rules(rules, rows)
    return index


def _rule_matches(rule: _Rule, request: Request, model: str) -> bool:
    """Does the rule deny the request? `model` is the request's model, normalised."""
    fact = rule.fact
    if fact.action and fact.action != request.action:
        return False
    if fact.data_class and fact.data_class != request.data_class:
        return False
    if fact.project is not None and fact.project != request.project:
        return False
    if fact.environment is not None and fact.environment != request.environment:
        return False
    if rule.prefix is not None:
        return model.startswith(rule.prefix) or model in rule.names
    if rule.platform:
        return model in rule.names
    if rule.model:
        return model == rule.model or model.endswith(rule.suffix)
    return True


def _binds(row: RowFact, request: Request) -> bool:
    if row.api_key is not None:
        return request.credential_kind == "api_key" and request.credential == row.api_key
    if row.workload_identity is not None:
        return (request.credential_kind == "workload_token"
                and request.credential == row.workload_identity)
    return True


def _obstacle(row: RowFact, index: OrgIndex, now: datetime, today: date, day: str,
              month: str) -> tuple[str | None, dict]:
    """Why this covering row does not allow (None: it allows), with message fields."""
    status = row.status
    if status not in ALLOWING_STATUSES:
        if status == "suspended":
            return Reason.ROW_SUSPENDED, {}
        if status == "revoked":
            return Reason.ROW_REVOKED, {}
        if status == "expired":
            return Reason.ROW_EXPIRED, {}
        return Reason.ROW_NOT_ACTIVE, {}
    if row.activated_at is None or row.activated_at > now:
        return Reason.ROW_NOT_ACTIVE, {}
    if row.renewal_date is not None and row.renewal_date < today:
        return Reason.ROW_EXPIRED, {}
    if row.cutoff == "block":
        if row.daily_cap is not None:
            spent = _spent(index.spend, row.id, day)
            if spent >= row.daily_cap:
                return Reason.OVER_DAILY_CAP, {"spent": spent, "cap": row.daily_cap}
        spent = _spent(index.spend, row.id, month)
        if spent >= row.monthly_budget:
            return Reason.OVER_MONTHLY_BUDGET, {"spent": spent, "cap": row.monthly_budget}
    return None, {}


def _cents(amount: Decimal) -> Decimal:
    """What is left, as the gateway reads it: two decimals, rounded down (never more than
    is left), and never negative (an alert-only row over budget says 0 and warns)."""
    return max(amount, Decimal(0)).quantize(CENT, rounding=ROUND_DOWN)


def _remaining(row: RowFact, index: OrgIndex, day: str, month: str) -> tuple[dict, tuple]:
    key = (row.id, day, month)
    found = index.remaining.get(key)
    if found is None:
        if len(index.remaining) > MAX_REMAINING_KEPT:  # an index that lived for days
            index.remaining.clear()
        found = index.remaining[key] = _compute_remaining(row, index, day, month)
    return found


def _compute_remaining(row: RowFact, index: OrgIndex, day: str, month: str) -> tuple:
    daily = None
    warnings = []
    if row.daily_cap is not None:
        daily = row.daily_cap - _spent(index.spend, row.id, day)
        if daily <= 0:
            warnings.append(Reason.OVER_DAILY_CAP)
        daily = _cents(daily)
    monthly = row.monthly_budget - _spent(index.spend, row.id, month)
    if monthly <= 0:
        warnings.append(Reason.OVER_MONTHLY_BUDGET)
    # A mapping shared by the decisions of this row and period: nobody mutates it.
    return {"daily": daily, "monthly": _cents(monthly)}, tuple(warnings)


def _fallbacks(index: OrgIndex, row: RowFact, request: Request, now, today, day, month):
    chain, seen = [], {row.id}
    nxt = row.fallback
    while nxt is not None and nxt not in seen and len(chain) < MAX_FALLBACK_DEPTH:
        seen.add(nxt)
        entry = index.rows.get(nxt)
        if entry is None:
            break
        fb, _ = entry
        if (fb.caller != request.caller or fb.environment != request.environment
                or request.action not in fb.actions or request.data_class not in fb.data_classes
                or not _binds(fb, request)
                or _obstacle(fb, index, now, today, day, month)[0] is not None):
            break
        usable = []
        for platform, model_id in sorted(fb.models):
            name = f"{platform}/{model_id}"
            probe = Request(request.project, request.environment, request.caller,
                            request.credential_kind, request.credential, name,
                            request.action, request.data_class)
            if not any(_rule_matches(rule, probe, normalise(name)) for rule in index.rules):
                usable.append(name)
        if not usable:
            break
        chain.append({"row": fb.id, "models": usable})
        nxt = fb.fallback
    return tuple(chain)


def evaluate(index: OrgIndex, request: Request, now: datetime) -> Decision:
    """Allow or deny `request` at `now` (an aware datetime) under the compiled matrix."""
    model = normalise(request.model)  # one strip and lower: " GPT-4o" asks for "gpt-4o"
    for rule in index.rules:
        if _rule_matches(rule, request, model):
            detail = rule.fact.reason or "this model, action or data class is not allowed."
            return deny(Reason.DENIED_BY_RULE, rule=rule.fact.id, detail=detail)
    candidates = index.buckets.get(
        (request.caller, request.environment, request.action, request.data_class))
    if not candidates:
        return deny(Reason.NO_MATCHING_ROW)
    day, month = period_keys(now)
    today = now.astimezone(UTC).date()
    best = None  # (rank, row, fields)
    for row, names in candidates:
        if model not in names or not _binds(row, request):
            continue
        reason, fields = _obstacle(row, index, now, today, day, month)
        if reason is None:
            remaining, warnings = _remaining(row, index, day, month)
            return Decision(
                allow=True, reasons=(Reason.ALLOW,), row=row.id, remaining=remaining,
                message=MESSAGES[Reason.ALLOW].format(row=row.id), warnings=warnings,
                fallbacks=_fallbacks(index, row, request, now, today, day, month))
        rank = _RANK[reason]
        if best is None or rank < best[0]:
            best = (rank, row, reason, fields)
    if best is None:
        return deny(Reason.NO_MATCHING_ROW)
    _, row, reason, fields = best
    return deny(reason, row=row.id, **fields)
