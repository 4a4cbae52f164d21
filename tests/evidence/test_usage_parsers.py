"""Usage parsers without the database: each format's fields, line-level errors, stable
ids, and the LiteLLM CSV fast path agreeing with the checked path on every row."""

import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from evidence.usage import parsers
from evidence.usage.parsers import LineError, UsageLine
from tests.evidence.usage_helpers import example


def parse(kind, source, data: bytes):
    return list(parsers.parser_for(kind, source)(io.BufferedReader(io.BytesIO(data))))


def test_litellm_json_and_csv_give_the_same_lines():
    as_json = parse("usage", "litellm", example("litellm-spendlogs.json"))
    as_csv = parse("usage", "litellm", example("litellm-spendlogs.csv"))
    assert as_json == as_csv and len(as_json) == 2
    chat = as_json[0]
    assert chat == UsageLine(
        source_id="chatcmpl-9a1b2c3d", occurred_at=datetime(2026, 11, 1, 9, 15, 2, 123000,
                                                            tzinfo=UTC),
        model="gpt-test", provider="openai", action="chat", api_key_ref="KEYPREFIX",
        project_ref="support-bot", environment_ref="production", caller_ref="support-api",
        requests=1, input_tokens=1200, output_tokens=300, cost_usd=Decimal("0.00123"))


ROWS = [
    # (row values, whether the fast path may take it)
    ({"request_id": "a", "startTime": "2026-11-01T00:00:00Z", "model": "m"}, True),
    ({"request_id": " b ", "startTime": "2026-11-01 00:00:00", "model": "",
      "model_group": "g", "spend": "0.1234567"}, True),
    ({"request_id": "c", "startTime": "1793491200", "model": "m"}, False),
    ({"request_id": "d", "startTime": "2026-11-01", "model": "m",
      "metadata": '{"user_api_key_alias": 7}'}, False),
    ({"request_id": "e", "startTime": "2026-11-01", "model": "m",
      "metadata": '{"spend_logs_metadata": {"environment": "prod"}}'}, False),
    ({"request_id": "f", "startTime": "2026-11-01", "model": "m", "spend": "NaN"}, False),
    ({"request_id": "g", "startTime": "2026-11-01", "model": "m", "prompt_tokens": "-1"},
     False),
    ({"request_id": "", "startTime": "2026-11-01", "model": "m"}, False),
    ({"request_id": "h", "startTime": "2026-11-01", "model": "   "}, False),
    ({"request_id": "i", "startTime": "2026-11-01", "model": "m", "metadata": "[1]"}, False),
    ({"request_id": "j", "startTime": "2026-11-01", "model": "m", "metadata": "{bad"},
     False),
]
COLUMNS = ["request_id", "call_type", "api_key", "spend", "prompt_tokens",
           "completion_tokens", "startTime", "model", "model_group", "custom_llm_provider",
           "end_user", "user", "team_id", "metadata"]


@pytest.mark.parametrize(("values", "fast"), ROWS)
def test_the_litellm_csv_fast_path_agrees_with_the_checked_path(values, fast):
    row = [values.get(c, "") for c in COLUMNS]
    positions = tuple(COLUMNS.index(f) if f in COLUMNS else None for f in parsers.FAST_FIELDS)
    try:
        quick = parsers._litellm_fast(row, positions)
    except (ValueError, TypeError, ArithmeticError, AttributeError):
        quick = None
    checked = parsers._litellm(2, dict(zip(COLUMNS, row, strict=True)))
    assert (quick is not None) == fast
    if quick is not None:
        assert checked == [quick]
    csv_text = ",".join(COLUMNS) + "\n" + ",".join(
        '"' + v.replace('"', '""') + '"' for v in row) + "\n"
    assert parse("usage", "litellm", csv_text.encode()) == checked


def test_errors_name_line_and_field():
    items = parse("usage", "litellm", example("litellm-bad.csv"))
    errors = [i for i in items if isinstance(i, LineError)]
    assert [(e.line, e.field) for e in errors] == [
        (3, "request_id"), (4, "startTime"), (4, "prompt_tokens"), (4, "spend")]
    assert all(e.message for e in errors)


def test_bucket_lines_have_stable_ids_and_no_cost():
    first = parse("usage", "openai", example("openai-completions.json"))
    again = parse("usage", "openai", example("openai-completions.json"))
    assert [line.source_id for line in first] == [line.source_id for line in again]
    assert len({line.source_id for line in first}) == 2
    assert all(line.cost_usd is None for line in first)


def test_a_generic_line_without_id_is_hashed_from_its_fields():
    data = b'[{"occurred_at": "2026-11-01T00:00:00Z", "model": "m", "cost_usd": 1}]'
    one, two = parse("usage", "api", data), parse("usage", "api", data)
    assert one[0].source_id == two[0].source_id and one[0].source_id.startswith("h:")
    other = parse("usage", "api", data.replace(b'"cost_usd": 1', b'"cost_usd": 2'))
    assert other[0].source_id != one[0].source_id


def test_anthropic_costs_are_converted_from_cents():
    (line,) = parse("billing", "anthropic", example("anthropic-costs.json"))
    assert line.amount_usd == Decimal("1.2345") and line.project_ref == "support-bot"


def test_litellm_has_no_billing_parser():
    assert parsers.parser_for("billing", "litellm") is None
