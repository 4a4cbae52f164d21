"""The compiled engine against the plain reference evaluator: random matrices, deny rules,
credentials, times and budgets. Acceptance (#6): the engine never allows what the reference
denies; here it must agree on every field (decision, reason, row, rule, fallback chain).
Deterministic (derandomize) so CI never flakes; ~6,000 decisions over 300 matrices."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from approvals.decisions import reference
from approvals.decisions.engine import DenyFact, Request, RowFact, compile_index, evaluate

PLATFORMS = ("openai", "azure", "bedrock")
MODEL_IDS = ("gpt-4o", "claude", "meta/llama", "emb")
RULE_SPELLINGS = (" GPT-4o ", "Azure/gpt-4o", "openai/meta/llama", "Meta/Llama")
ACTIONS = ("chat", "embeddings", "image")
DATA_CLASSES = ("public", "internal", "customer_pii")
CALLERS = ("c1", "c2")
ENVS = ("dev", "prod")
PROJECTS = ("p1", "p2")
KEYS = ("k1", "k2")
IDENTITIES = ("w1",)
STATUSES = ("active",) * 5 + ("renewal_due", "suspended", "revoked", "expired", "draft",
                              "in_review")
BASE = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
DAY, MONTH = "2026-11-22", "2026-11"
# Renewal dates around BASE (the 21st has passed, the 22nd is the last valid day).
RENEWALS = (date(2026, 11, 21), date(2026, 11, 22), date(2026, 11, 23), date(2027, 1, 1),
            date(2027, 1, 1))
ACTIVATIONS = (BASE - timedelta(days=30),) * 4 + (BASE - timedelta(seconds=1), BASE,
                                                  BASE + timedelta(seconds=1))

caps = st.sampled_from([Decimal("10.00"), Decimal("40.00"), Decimal("100.00")])
money = st.sampled_from([Decimal(0), Decimal(0), Decimal("9.99"), Decimal("10.00"),
                         Decimal("40.00"), Decimal("100.00")])
model_pairs = st.tuples(st.sampled_from(PLATFORMS), st.sampled_from(MODEL_IDS))


@st.composite
def rows(draw):
    """Up to 8 rows. Most are live and within budget so allows are common; a row may copy
    the scope of the previous one, so fallback chains and competing rows happen."""
    n = draw(st.integers(0, 8))
    facts = []
    ids = [f"r{i:02d}" for i in range(n)]
    for row_id in ids:
        binding = draw(st.sampled_from(("none", "none", "key", "identity")))
        scope = dict(
            project=draw(st.sampled_from(PROJECTS)), environment=draw(st.sampled_from(ENVS)),
            caller=draw(st.sampled_from(CALLERS)),
            actions=frozenset(draw(st.lists(st.sampled_from(ACTIONS), min_size=1,
                                            max_size=3))),
            data_classes=frozenset(draw(st.lists(st.sampled_from(DATA_CLASSES), min_size=1,
                                                 max_size=3))),
            api_key=draw(st.sampled_from(KEYS)) if binding == "key" else None,
            workload_identity=draw(st.sampled_from(IDENTITIES)) if binding == "identity"
            else None)
        if facts and draw(st.booleans()):
            previous = facts[-1]
            scope = {name: getattr(previous, name) for name in scope}
        facts.append(RowFact(
            id=row_id, models=frozenset(draw(st.lists(model_pairs, min_size=1, max_size=3))),
            status=draw(st.sampled_from(STATUSES)),
            monthly_budget=draw(caps), daily_cap=draw(st.none() | caps),
            cutoff=draw(st.sampled_from(("block", "block", "alert_only"))),
            renewal_date=draw(st.none() | st.sampled_from(RENEWALS)),
            activated_at=draw(st.none() | st.sampled_from(ACTIVATIONS)),
            fallback=draw(st.none() | st.sampled_from(ids)), **scope))
    return facts


@st.composite
def deny_rules(draw):
    facts = []
    for i in range(draw(st.integers(0, 3))):
        fields = dict(
            platform=draw(st.sampled_from(("",) + PLATFORMS + (" AZURE",))),
            # Rule fields as people type them: any case, stray spaces, a qualified id in
            # the model field (issue 13.4).
            model_id=draw(st.sampled_from(("",) + MODEL_IDS + RULE_SPELLINGS)),
            action=draw(st.sampled_from(("",) + ACTIONS)),
            data_class=draw(st.sampled_from(("",) + DATA_CLASSES)),
            project=draw(st.none() | st.sampled_from(PROJECTS)),
            environment=draw(st.none() | st.sampled_from(ENVS)))
        if not (fields["model_id"] or fields["action"] or fields["data_class"]):
            fields["action"] = ACTIONS[0]
        facts.append(DenyFact(id=f"d{i}", **fields))
    return facts


@st.composite
def spends(draw, facts):
    spend = {}
    for row in facts:
        for key in (DAY, MONTH, "2026-11-21", "2026-10"):
            if draw(st.booleans()):
                spend[(row.id, key)] = draw(money)
    return spend


model_names = st.one_of(
    st.sampled_from(MODEL_IDS),
    st.builds(lambda p, m: f"{p}/{m}", st.sampled_from(PLATFORMS + ("meta",)),
              st.sampled_from(MODEL_IDS)),
    st.sampled_from(("unknown-model", " Claude", "AZURE/gpt-4o", "Bedrock/Meta/Llama ")))


@st.composite
def requests(draw):
    kind = draw(st.sampled_from(("api_key", "workload_token")))
    return Request(
        project=draw(st.sampled_from(PROJECTS)), environment=draw(st.sampled_from(ENVS)),
        caller=draw(st.sampled_from(CALLERS)), credential_kind=kind,
        credential=draw(st.sampled_from(KEYS if kind == "api_key" else IDENTITIES + ("w2",))),
        model=draw(model_names), action=draw(st.sampled_from(ACTIONS)),
        data_class=draw(st.sampled_from(DATA_CLASSES)))


TIMES = (BASE, BASE - timedelta(days=2), BASE + timedelta(days=1),
         BASE + timedelta(hours=11, minutes=59, seconds=59))
times = st.sampled_from(TIMES)


def _compare(facts, rules, spend, request, now):
    index = compile_index(facts, rules, spend)
    got = evaluate(index, request, now)
    allow, reason, row, rule, chain = reference.evaluate(facts, rules, spend, request, now)
    # The acceptance criterion first, so a failure says which way it went.
    assert not (got.allow and not allow), (got, reason)
    assert (got.allow, got.reasons[0], got.row, got.rule) == (allow, reason, row, rule)
    assert tuple((f["row"], tuple(f["models"])) for f in got.fallbacks) == chain
    return got


@st.composite
def worlds(draw):
    facts = draw(rows())
    return facts, draw(deny_rules()), draw(spends(facts))


@settings(max_examples=200, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(world=worlds(), batch=st.lists(st.tuples(requests(), times), min_size=20, max_size=20))
def test_engine_agrees_with_the_reference(world, batch):
    facts, rules, spend = world
    for request, now in batch:
        _compare(facts, rules, spend, request, now)


def aimed_requests(facts):
    """For each row, requests it covers: bare and platform-qualified model names, each
    action and data class (so allows, budget denies and fallbacks are common)."""
    for row in facts:
        kind = "workload_token" if row.workload_identity else "api_key"
        credential = row.workload_identity or row.api_key or KEYS[0]
        platform, model_id = min(row.models)
        for model in (model_id, f"{platform}/{model_id}"):
            for action in sorted(row.actions):
                yield Request(row.project, row.environment, row.caller, kind, credential,
                              model, action, min(row.data_classes))


@settings(max_examples=400, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(world=worlds())
def test_engine_agrees_on_requests_a_row_covers(world):
    facts, rules, spend = world
    for request in aimed_requests(facts):
        for now in TIMES:
            _compare(facts, rules, spend, request, now)


@settings(max_examples=200, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(world=worlds())
def test_an_allow_is_never_over_a_blocking_budget_nor_under_a_deny_rule(world):
    facts, rules, spend = world
    index = compile_index(facts, rules, spend)
    for request in aimed_requests(facts):
        got = evaluate(index, request, BASE)
        if not got.allow:
            continue
        row = next(r for r in facts if r.id == got.row)
        assert reference.denied_by(rules, request, facts) is None
        assert row.status in ("active", "renewal_due")
        if row.cutoff == "block":
            assert spend.get((row.id, MONTH), Decimal(0)) < row.monthly_budget
            assert row.daily_cap is None or spend.get((row.id, DAY), Decimal(0)) < row.daily_cap
            assert got.remaining["monthly"] >= 0
