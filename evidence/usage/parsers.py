"""Parsers of usage and billing exports. Each turns a binary stream into a stream of
UsageLine / BillingItem records and LineError reports, so a caller can validate a whole
file before writing anything and never hold more than a chunk of it.

Formats (docs/usage-formats.md has an example of each):

  usage   openai      Usage API "completions" buckets (JSON pages), or a CSV of them
  usage   anthropic   Admin API messages usage report (JSON pages)
  usage   litellm     LiteLLM_SpendLogs rows (JSON list or CSV)
  usage   api         the generic shape (JSON list / {"lines": [...]} or CSV)
  billing openai      Costs API buckets (JSON pages)
  billing anthropic   Admin API cost report (JSON pages; amounts are in cents)
  billing api         the generic billing shape (JSON or CSV)

A line without an id of its own (bucketed reports) gets a deterministic hash of its
bucket, model, key, project and the other grouping fields, so re-importing the same
file adds nothing. A line without a cost (usage buckets) has cost_usd None: the import
prices it from the org's newest catalog snapshot.
"""

import csv
import hashlib
import io
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import NamedTuple

from evidence.families import Action
from projects.secrets import kind_of, visible_prefix

SIX_PLACES = Decimal("0.000001")
MAX_AMOUNT = Decimal(10) ** 8  # cost_usd / amount_usd are numeric(14, 6)
MAX_INT = 2**63 - 1
ACTIONS = frozenset(Action.values)
LIMITS = {"source_id": 200, "model": 300, "provider": 64, "action": 32, "api_key_ref": 200,
          "project_ref": 200, "environment_ref": 64, "caller_ref": 200, "description": 300}


class LineError(NamedTuple):
    """One bad field of one line: line is the CSV line number (the header is line 1) or
    the record number in a JSON file (1-based); where locates a JSON record."""

    line: int
    field: str
    message: str
    where: str = ""

    def as_dict(self) -> dict:
        out = {"line": self.line, "field": self.field, "message": self.message}
        if self.where:
            out["record"] = self.where
        return out


class FileError(Exception):
    """The input as a whole cannot be read (not JSON, no header, wrong shape)."""


@dataclass(slots=True)
class UsageLine:
    source_id: str
    occurred_at: datetime
    model: str
    provider: str = ""
    action: str = ""
    api_key_ref: str = ""
    project_ref: str = ""
    environment_ref: str = ""
    caller_ref: str = ""
    requests: int = 1
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal | None = None  # None: the source gave no cost


@dataclass(slots=True)
class BillingItem:
    source_id: str
    period_start: date
    period_end: date
    amount_usd: Decimal
    provider: str = ""
    model: str = ""
    project_ref: str = ""
    description: str = ""


NUL_MESSAGE = "Must not contain NUL (\\x00) characters."


class _Checks:
    """Collects the bad fields of one line; each converter returns a usable default when
    the value is bad, so every bad field of a line is reported at once."""

    __slots__ = ("errors",)

    def __init__(self):
        self.errors = []

    def bad(self, field, message):
        self.errors.append((field, message))

    def text(self, value, field, *, required=False, limit=None):
        if value is None:
            value = ""
        elif not isinstance(value, str):
            value = str(value) if isinstance(value, int | float) else None
            if value is None:
                self.bad(field, "Text expected.")
                return ""
        value = value.strip()
        if "\x00" in value:
            # PostgreSQL text cannot hold NUL: caught here, it is this line's error
            # instead of a DataError that aborts the whole import as an internal error.
            self.bad(field, NUL_MESSAGE)
            return ""
        if required and not value:
            self.bad(field, "Required.")
        elif limit and len(value) > limit:
            self.bad(field, f"At most {limit} characters.")
            return value[:limit]
        return value

    def count(self, value, field, default=0):
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            self.bad(field, "A whole number, e.g. 1200.")
            return default
        try:
            number = int(value)
        except (TypeError, ValueError):
            self.bad(field, "A whole number, e.g. 1200.")
            return default
        if not 0 <= number <= MAX_INT:
            self.bad(field, "Must be zero or more.")
            return default
        return number

    def money(self, value, field, *, required=False, negative=False):
        if value is None or value == "":
            if required:
                self.bad(field, "Required: an amount in USD, e.g. 0.0123.")
                return Decimal(0)
            return None
        if isinstance(value, bool):
            self.bad(field, "An amount in USD, e.g. 0.0123.")
            return Decimal(0)
        try:
            amount = Decimal(value if isinstance(value, str) else str(value))
        except InvalidOperation:
            self.bad(field, "An amount in USD, e.g. 0.0123.")
            return Decimal(0)
        if not amount.is_finite() or abs(amount) >= MAX_AMOUNT:
            self.bad(field, "An amount in USD below 100,000,000.")
            return Decimal(0)
        if amount < 0 and not negative:
            self.bad(field, "Must not be negative.")
            return Decimal(0)
        return amount.quantize(SIX_PLACES, rounding=ROUND_HALF_UP)

    def moment(self, value, field):
        """An RFC 3339 / ISO 8601 time (naive means UTC) or Unix seconds."""
        if value is None or value == "":
            self.bad(field, "Required: a time, e.g. 2026-11-01T12:00:00Z or Unix seconds.")
            return _EPOCH
        try:
            if isinstance(value, int | float) and not isinstance(value, bool):
                return datetime.fromtimestamp(value, UTC)
            value = str(value).strip()
            if value.isdigit():
                return datetime.fromtimestamp(int(value), UTC)
            moment = datetime.fromisoformat(value)
        except (ValueError, OverflowError, OSError):
            self.bad(field, "A time, e.g. 2026-11-01T12:00:00Z or Unix seconds.")
            return _EPOCH
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    def day(self, value, field):
        if value is None or value == "":
            self.bad(field, "Required: a date, e.g. 2026-11-01.")
            return _EPOCH.date()
        try:
            return date.fromisoformat(str(value).strip()[:10])
        except ValueError:
            self.bad(field, "A date, e.g. 2026-11-01.")
            return _EPOCH.date()

    def action(self, value, field="action"):
        value = self.text(value, field)
        if value and value not in ACTIONS:
            self.bad(field, f"One of {', '.join(sorted(ACTIONS))}.")
            return ""
        return value


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def line_hash(*parts) -> str:
    """The source id of a line its source gives none: stable across re-exports."""
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return "h:" + hashlib.sha256(text.encode()).hexdigest()[:40]


@lru_cache(maxsize=4096)
def key_ref(value: str) -> str:
    """A full team API key secret is never stored: only its visible prefix, which is also
    what attribution matches (projects.secrets). Cached: a file names few keys."""
    return visible_prefix(value) if value.startswith("gv") and kind_of(value) else value


# --- reading -----------------------------------------------------------------------------

def _text_stream(stream) -> io.TextIOBase:
    return io.TextIOWrapper(stream, encoding="utf-8-sig", newline="", errors="strict")


def _first_char(stream) -> str:
    """The first non-blank character, without consuming the stream."""
    head = stream.peek(64) if hasattr(stream, "peek") else b""
    if not head:
        position = stream.tell()
        head = stream.read(64)
        stream.seek(position)
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return chr(text[0]) if text else ""


def is_json(stream) -> bool:
    return _first_char(stream) in ("[", "{")


def _load_json(stream):
    try:
        return json.load(_text_stream(stream))
    except UnicodeDecodeError:
        raise FileError("The file is not UTF-8 text.") from None
    except json.JSONDecodeError as exc:
        raise FileError(f"Not valid JSON (line {exc.lineno}, column {exc.colno}: "
                        f"{exc.msg}).") from None
    except RecursionError:
        raise FileError(f"Not valid JSON (nested deeper than Python reads, "
                        f"{sys.getrecursionlimit()} levels).") from None


def csv_rows(stream, required: Iterable[str]) -> Iterator[tuple[int, dict]]:
    """(line number, row dict) of a CSV with a header line, streamed."""
    reader = csv.DictReader(_text_stream(stream))
    try:
        header = reader.fieldnames
    except (UnicodeDecodeError, csv.Error) as exc:
        raise FileError(f"Not a readable CSV file ({exc}).") from None
    if not header:
        raise FileError("The CSV file has no header line.")
    missing = [name for name in required if name not in header]
    if missing:
        raise FileError(f"The CSV header lacks the column(s) {', '.join(missing)}; it has "
                        f"{', '.join(header[:20])}.")
    try:
        for row in reader:
            yield reader.line_num, row
    except UnicodeDecodeError:
        raise FileError(f"Line {reader.line_num + 1} is not UTF-8 text.") from None
    except csv.Error as exc:
        raise FileError(f"Line {reader.line_num}: {exc}.") from None


def _emit(number, record, checks, where=""):
    if checks.errors:
        return [LineError(number, field, message, where) for field, message in checks.errors]
    return [record]


def _pages(document, time_key: str) -> Iterator[tuple[int, int, dict, dict]]:
    """(bucket index, result index, bucket, result) of a page, a list of pages, or a bare
    list of buckets, as the OpenAI and Anthropic reports return them."""
    if isinstance(document, dict):
        document = [document]
    if not isinstance(document, list):
        raise FileError("Expected a report page ({\"data\": [...]}) or a list of them.")
    buckets = []
    for item in document:
        if isinstance(item, dict) and "data" in item and isinstance(item["data"], list):
            buckets.extend(item["data"])
        elif isinstance(item, dict) and time_key in item:
            buckets.append(item)
        else:
            raise FileError(f"Expected report pages with \"data\" buckets that have "
                            f"\"{time_key}\" and \"results\".")
    for i, bucket in enumerate(buckets):
        results = bucket.get("results") if isinstance(bucket, dict) else None
        if not isinstance(results, list):
            raise FileError(f"Bucket data[{i}] has no \"results\" list.")
        for j, result in enumerate(results):
            yield i, j, bucket, result if isinstance(result, dict) else {}


# --- usage: OpenAI -----------------------------------------------------------------------

OPENAI_CSV = ("start_time", "model", "input_tokens", "output_tokens")


def _openai_usage(n, start, end, r, where=""):
    c = _Checks()
    begin = c.moment(start, "start_time")
    model = c.text(r.get("model"), "model", required=True, limit=LIMITS["model"])
    key = c.text(r.get("api_key_id"), "api_key_id", limit=200)
    project = c.text(r.get("project_id"), "project_id", limit=200)
    user = c.text(r.get("user_id"), "user_id", limit=200)
    batch = str(r.get("batch")).lower() == "true"
    finish = c.moment(end, "end_time").isoformat() if end not in (None, "") else ""
    # Hashed from parsed values, so the JSON page and its CSV give the same ids.
    line = UsageLine(
        source_id=line_hash("openai", begin.isoformat(), finish, model, key, project, user,
                            batch, r.get("service_tier") or ""),
        occurred_at=begin, model=model, provider="openai", action="batch" if batch else "",
        api_key_ref=key, project_ref=project, caller_ref=user,
        requests=c.count(r.get("num_model_requests"), "num_model_requests"),
        input_tokens=c.count(r.get("input_tokens"), "input_tokens"),
        output_tokens=c.count(r.get("output_tokens"), "output_tokens"))
    return _emit(n, line, c, where)


def parse_openai_usage(stream):
    """OpenAI Usage API completions buckets: {"object": "page", "data": [{"start_time",
    "end_time", "results": [{input_tokens, output_tokens, num_model_requests, model,
    project_id, api_key_id, user_id, batch, ...}]}]}, grouped by model (and key/project);
    or a CSV with one row per result and the bucket's start_time/end_time as columns."""
    if is_json(stream):
        pages = _pages(_load_json(stream), "start_time")
        for n, (i, j, bucket, result) in enumerate(pages, 1):
            yield from _openai_usage(n, bucket.get("start_time"), bucket.get("end_time"),
                                     result, f"data[{i}].results[{j}]")
        return
    for n, row in csv_rows(stream, OPENAI_CSV):
        yield from _openai_usage(n, row.get("start_time"), row.get("end_time"), row)


# --- usage: Anthropic --------------------------------------------------------------------

def _anthropic_input(c, r):
    cache = r.get("cache_creation") if isinstance(r.get("cache_creation"), dict) else {}
    return (c.count(r.get("uncached_input_tokens"), "uncached_input_tokens")
            + c.count(r.get("cache_read_input_tokens"), "cache_read_input_tokens")
            + c.count(cache.get("ephemeral_5m_input_tokens",
                                r.get("cache_creation_5m_input_tokens")),
                      "cache_creation.ephemeral_5m_input_tokens")
            + c.count(cache.get("ephemeral_1h_input_tokens",
                                r.get("cache_creation_1h_input_tokens")),
                      "cache_creation.ephemeral_1h_input_tokens"))


def parse_anthropic_usage(stream):
    """Anthropic Admin API GET /v1/organizations/usage_report/messages pages: buckets
    with starting_at/ending_at and results of uncached_input_tokens,
    cache_read_input_tokens, cache_creation {ephemeral_5m_input_tokens,
    ephemeral_1h_input_tokens}, output_tokens, model, api_key_id, workspace_id,
    service_tier, context_window. The report counts no requests (requests = 0)."""
    if not is_json(stream):
        raise FileError("The Anthropic usage report is JSON (the API's pages).")
    for n, (i, j, bucket, r) in enumerate(_pages(_load_json(stream), "starting_at"), 1):
        c = _Checks()
        start = bucket.get("starting_at")
        model = c.text(r.get("model"), "model", required=True, limit=LIMITS["model"])
        key = c.text(r.get("api_key_id"), "api_key_id", limit=200)
        workspace = c.text(r.get("workspace_id"), "workspace_id", limit=200)
        line = UsageLine(
            source_id=line_hash("anthropic", start, bucket.get("ending_at"), model, key,
                                workspace, r.get("service_tier"), r.get("context_window"),
                                r.get("inference_geo")),
            occurred_at=c.moment(start, "starting_at"), model=model, provider="anthropic",
            api_key_ref=key, project_ref=workspace, requests=0,
            input_tokens=_anthropic_input(c, r),
            output_tokens=c.count(r.get("output_tokens"), "output_tokens"))
        yield from _emit(n, line, c, f"data[{i}].results[{j}]")


# --- usage: LiteLLM spend logs -----------------------------------------------------------

LITELLM_CSV = ("request_id", "startTime")
CALL_TYPES = {
    "completion": "chat", "acompletion": "chat", "text_completion": "chat",
    "atext_completion": "chat", "anthropic_messages": "chat", "generate_content": "chat",
    "agenerate_content": "chat", "embedding": "embeddings", "aembedding": "embeddings",
    "image_generation": "image", "aimage_generation": "image", "image_edit": "image",
    "aimage_edit": "image", "responses": "responses", "aresponses": "responses",
    "transcription": "audio", "atranscription": "audio", "speech": "audio",
    "aspeech": "audio", "create_batch": "batch", "acreate_batch": "batch",
}


def _metadata(value, c):
    if isinstance(value, dict):
        return value
    if value in (None, "", "{}"):
        return {}
    try:
        value = json.loads(value)
    except (TypeError, ValueError):
        c.bad("metadata", "JSON object expected.")
        return {}
    return value if isinstance(value, dict) else {}


def _litellm(n, r, where=""):
    c = _Checks()
    meta = _metadata(r.get("metadata"), c)
    extra = meta.get("spend_logs_metadata") or {}
    model = r.get("model") or r.get("model_group")
    line = UsageLine(
        source_id=c.text(r.get("request_id"), "request_id", required=True,
                         limit=LIMITS["source_id"]),
        occurred_at=c.moment(r.get("startTime"), "startTime"),
        model=c.text(model, "model", required=True, limit=LIMITS["model"]),
        provider=c.text(r.get("custom_llm_provider"), "custom_llm_provider", limit=64),
        action=CALL_TYPES.get(r.get("call_type") or "", ""),
        api_key_ref=key_ref(c.text(meta.get("user_api_key_alias") or r.get("api_key"),
                                   "api_key", limit=200)),
        project_ref=c.text(meta.get("user_api_key_team_alias") or r.get("team_id"),
                           "team_id", limit=200),
        environment_ref=c.text(meta.get("environment") or (
            extra.get("environment") if isinstance(extra, dict) else ""),
            "metadata.environment", limit=64),
        caller_ref=c.text(meta.get("caller") or r.get("end_user") or r.get("user"),
                          "end_user", limit=200),
        input_tokens=c.count(r.get("prompt_tokens"), "prompt_tokens"),
        output_tokens=c.count(r.get("completion_tokens"), "completion_tokens"),
        cost_usd=c.money(r.get("spend"), "spend"))
    return _emit(n, line, c, where)


def parse_litellm_usage(stream):
    """LiteLLM_SpendLogs rows, as a JSON list (or {"data": [...]}, /spend/logs) or a CSV
    export of the table: request_id, call_type, api_key (hashed), spend, prompt_tokens,
    completion_tokens, startTime, model, model_group, custom_llm_provider, user,
    end_user, team_id, metadata (user_api_key_alias, user_api_key_team_alias, ...)."""
    if is_json(stream):
        rows = _load_json(stream)
        if isinstance(rows, dict):
            rows = rows.get("data", rows.get("logs"))
        if not isinstance(rows, list):
            raise FileError("Expected a JSON list of spend log rows.")
        for n, row in enumerate(rows, 1):
            yield from _litellm(n, row if isinstance(row, dict) else {}, f"[{n - 1}]")
        return
    yield from _litellm_csv(stream)


_decode = json.JSONDecoder().decode
FAST_FIELDS = ("request_id", "startTime", "metadata", "api_key", "team_id", "model",
               "model_group", "custom_llm_provider", "call_type", "end_user", "user",
               "prompt_tokens", "completion_tokens", "spend")


def _litellm_fast(row, p):
    """The common case of a spend-log CSV row without per-field bookkeeping: the line, or
    None when anything is unusual, and the checked path (_litellm) then reports it
    exactly. p maps FAST_FIELDS to column positions (None: no such column)."""
    (id_at, at, meta_at, key_at, team_at, model_at, group_at, provider_at, call_at,
     end_user_at, user_at, prompt_at, completion_at, spend_at) = p
    request_id = row[id_at].strip()
    moment = row[at].strip()
    raw_meta = row[meta_at] if meta_at is not None else ""
    meta = _decode(raw_meta) if raw_meta and raw_meta != "{}" else {}
    alias = meta.get("user_api_key_alias") or (row[key_at] if key_at is not None else "")
    team = meta.get("user_api_key_team_alias") or (row[team_at] if team_at is not None
                                                   else "")
    model = (row[model_at] if model_at is not None else "") or (
        row[group_at] if group_at is not None else "")
    environment = meta.get("environment") or ""
    caller = meta.get("caller") or (row[end_user_at] if end_user_at is not None else "") \
        or (row[user_at] if user_at is not None else "")
    if (type(alias) is not str or type(team) is not str or type(environment) is not str
            or type(caller) is not str or "spend_logs_metadata" in meta):
        return None
    alias, team, model = alias.strip(), team.strip(), model.strip()
    environment, caller = environment.strip(), caller.strip()
    if (not request_id or not model or moment.isdigit() or len(request_id) > 200
            or len(model) > 300 or len(alias) > 200 or len(team) > 200
            or len(environment) > 64 or len(caller) > 200):
        return None
    occurred = datetime.fromisoformat(moment)
    prompt = int(row[prompt_at]) if prompt_at is not None and row[prompt_at] else 0
    completion = int(row[completion_at]) if completion_at is not None and \
        row[completion_at] else 0
    spend = row[spend_at] if spend_at is not None else ""
    cost = Decimal(spend).quantize(SIX_PLACES, rounding=ROUND_HALF_UP) if spend else None
    if not (0 <= prompt <= MAX_INT and 0 <= completion <= MAX_INT) or (
            cost is not None and not 0 <= cost < MAX_AMOUNT):
        return None
    provider = row[provider_at].strip() if provider_at is not None else ""
    if len(provider) > 64 or "\x00" in (request_id + model + alias + team + environment
                                         + caller + provider):
        return None  # the checked path names the field
    return UsageLine(
        source_id=request_id, model=model, provider=provider,
        occurred_at=occurred if occurred.tzinfo else occurred.replace(tzinfo=UTC),
        action=CALL_TYPES.get(row[call_at] if call_at is not None else "", ""),
        api_key_ref=key_ref(alias), project_ref=team, environment_ref=environment,
        caller_ref=caller, input_tokens=prompt, output_tokens=completion, cost_usd=cost)


def _litellm_csv(stream):
    """Spend-log CSV rows: the fast path per row, the checked path for any row it
    declines (both give the same line for every good row; see the parser tests)."""
    reader = csv.reader(_text_stream(stream))
    try:
        header = next(reader, None)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise FileError(f"Not a readable CSV file ({exc}).") from None
    if not header:
        raise FileError("The CSV file has no header line.")
    missing = [name for name in LITELLM_CSV if name not in header]
    if missing:
        raise FileError(f"The CSV header lacks the column(s) {', '.join(missing)}; it has "
                        f"{', '.join(header[:20])}.")
    first = {}
    for i, name in enumerate(header):
        first.setdefault(name, i)
    positions = tuple(first.get(name) for name in FAST_FIELDS)
    width = len(header)
    try:
        for row in reader:
            line = None
            if len(row) == width:
                try:
                    line = _litellm_fast(row, positions)
                except (ValueError, TypeError, ArithmeticError, AttributeError):
                    line = None
            if line is not None:
                yield line
            else:
                yield from _litellm(reader.line_num, dict(zip(header, row, strict=False)))
    except UnicodeDecodeError:
        raise FileError(f"Line {reader.line_num + 1} is not UTF-8 text.") from None
    except csv.Error as exc:
        raise FileError(f"Line {reader.line_num}: {exc}.") from None


# --- usage: the generic shape ------------------------------------------------------------

GENERIC_CSV = ("occurred_at", "model")


def generic_usage_line(n, r, where=""):
    """One line of the generic shape (API pushes and generic files)."""
    c = _Checks()
    at = c.moment(r.get("occurred_at"), "occurred_at")
    model = c.text(r.get("model"), "model", required=True, limit=LIMITS["model"])
    line = UsageLine(
        source_id="", occurred_at=at, model=model,
        provider=c.text(r.get("provider"), "provider", limit=64),
        action=c.action(r.get("action")),
        api_key_ref=key_ref(c.text(r.get("api_key"), "api_key", limit=200)),
        project_ref=c.text(r.get("project"), "project", limit=200),
        environment_ref=c.text(r.get("environment"), "environment", limit=64),
        caller_ref=c.text(r.get("caller"), "caller", limit=200),
        requests=c.count(r.get("requests"), "requests", default=1),
        input_tokens=c.count(r.get("input_tokens"), "input_tokens"),
        output_tokens=c.count(r.get("output_tokens"), "output_tokens"),
        cost_usd=c.money(r.get("cost_usd"), "cost_usd"))
    line.source_id = c.text(r.get("id"), "id", limit=LIMITS["source_id"]) or line_hash(
        "api", r.get("occurred_at"), model, line.provider, line.action, line.api_key_ref,
        line.project_ref, line.environment_ref, line.caller_ref, line.requests,
        line.input_tokens, line.output_tokens, line.cost_usd)
    return _emit(n, line, c, where)


def _json_lines(stream):
    document = _load_json(stream)
    if isinstance(document, dict):
        document = document.get("lines")
    if not isinstance(document, list):
        raise FileError('Expected a JSON list of lines, or {"lines": [...]}.')
    return document


def parse_generic_usage(stream):
    """The generic shape: id (optional), occurred_at, model, provider, action, api_key,
    project, environment, caller, requests, input_tokens, output_tokens, cost_usd."""
    if is_json(stream):
        for n, row in enumerate(_json_lines(stream), 1):
            yield from generic_usage_line(n, row if isinstance(row, dict) else {},
                                          f"lines[{n - 1}]")
        return
    for n, row in csv_rows(stream, GENERIC_CSV):
        yield from generic_usage_line(n, row)


# --- billing -----------------------------------------------------------------------------

def _period(c, start, end, start_field, end_field):
    """A bucket's [start, end) times as inclusive dates."""
    begin = c.moment(start, start_field)
    finish = c.moment(end, end_field) if end not in (None, "") else begin + timedelta(days=1)
    last = (finish - timedelta(microseconds=1)).date()
    if last < begin.date():
        c.bad(end_field, "Must not be before the start.")
        last = begin.date()
    return begin.date(), last


def parse_openai_costs(stream):
    """OpenAI Costs API buckets: results {"amount": {"value": 0.06, "currency": "usd"},
    "line_item": "gpt-4o-2024-08-06, input", "project_id": ...}."""
    if not is_json(stream):
        raise FileError("The OpenAI costs report is JSON (the API's pages).")
    for n, (i, j, bucket, r) in enumerate(_pages(_load_json(stream), "start_time"), 1):
        c = _Checks()
        amount = r.get("amount") if isinstance(r.get("amount"), dict) else {}
        if str(amount.get("currency", "usd")).lower() != "usd":
            c.bad("amount.currency", "Only USD amounts can be imported.")
        start, end = _period(c, bucket.get("start_time"), bucket.get("end_time"),
                             "start_time", "end_time")
        item = c.text(r.get("line_item"), "line_item", limit=300)
        project = c.text(r.get("project_id"), "project_id", limit=200)
        line = BillingItem(
            source_id=line_hash("openai-cost", bucket.get("start_time"),
                                bucket.get("end_time"), item, project),
            period_start=start, period_end=end, provider="openai",
            model=item.split(",")[0].strip() if item else "", project_ref=project,
            description=item or "OpenAI costs",
            amount_usd=c.money(amount.get("value"), "amount.value", required=True,
                               negative=True))
        yield from _emit(n, line, c, f"data[{i}].results[{j}]")


def parse_anthropic_costs(stream):
    """Anthropic Admin API GET /v1/organizations/cost_report pages: results {"currency":
    "USD", "amount": "123.45" (cents, as a decimal string), workspace_id, description,
    cost_type, model, service_tier, token_type, context_window}."""
    if not is_json(stream):
        raise FileError("The Anthropic cost report is JSON (the API's pages).")
    for n, (i, j, bucket, r) in enumerate(_pages(_load_json(stream), "starting_at"), 1):
        c = _Checks()
        if str(r.get("currency") or "USD").upper() != "USD":
            c.bad("currency", "Only USD amounts can be imported.")
        start, end = _period(c, bucket.get("starting_at"), bucket.get("ending_at"),
                             "starting_at", "ending_at")
        cents = c.money(r.get("amount"), "amount", required=True, negative=True)
        model = c.text(r.get("model"), "model", limit=300)
        workspace = c.text(r.get("workspace_id"), "workspace_id", limit=200)
        description = c.text(r.get("description"), "description", limit=300) or " ".join(
            str(r.get(k)) for k in ("cost_type", "token_type") if r.get(k))
        line = BillingItem(
            source_id=line_hash("anthropic-cost", bucket.get("starting_at"),
                                bucket.get("ending_at"), workspace, description, model,
                                r.get("cost_type"), r.get("token_type"),
                                r.get("service_tier"), r.get("context_window")),
            period_start=start, period_end=end, provider="anthropic", model=model,
            project_ref=workspace, description=description or "Anthropic costs",
            amount_usd=(cents / 100).quantize(SIX_PLACES, rounding=ROUND_HALF_UP))
        yield from _emit(n, line, c, f"data[{i}].results[{j}]")


GENERIC_BILLING_CSV = ("period_start", "amount_usd")


def generic_billing_line(n, r, where=""):
    """One line of the generic billing shape: id (optional), period_start, period_end
    (inclusive dates; default the start), provider, model, project, description,
    amount_usd."""
    c = _Checks()
    start = c.day(r.get("period_start"), "period_start")
    end = c.day(r.get("period_end"), "period_end") if r.get("period_end") else start
    if end < start:
        c.bad("period_end", "Must not be before period_start.")
    line = BillingItem(
        source_id="", period_start=start, period_end=max(start, end),
        provider=c.text(r.get("provider"), "provider", limit=64),
        model=c.text(r.get("model"), "model", limit=300),
        project_ref=c.text(r.get("project"), "project", limit=200),
        description=c.text(r.get("description"), "description", limit=300),
        amount_usd=c.money(r.get("amount_usd"), "amount_usd", required=True, negative=True))
    line.source_id = c.text(r.get("id"), "id", limit=LIMITS["source_id"]) or line_hash(
        "api-billing", start, end, line.provider, line.model, line.project_ref,
        line.description, line.amount_usd)
    return _emit(n, line, c, where)


def parse_generic_billing(stream):
    if is_json(stream):
        for n, row in enumerate(_json_lines(stream), 1):
            yield from generic_billing_line(n, row if isinstance(row, dict) else {},
                                            f"lines[{n - 1}]")
        return
    for n, row in csv_rows(stream, GENERIC_BILLING_CSV):
        yield from generic_billing_line(n, row)


USAGE_PARSERS = {"openai": parse_openai_usage, "anthropic": parse_anthropic_usage,
                 "litellm": parse_litellm_usage, "api": parse_generic_usage}
BILLING_PARSERS = {"openai": parse_openai_costs, "anthropic": parse_anthropic_costs,
                   "api": parse_generic_billing}


def parser_for(kind: str, source: str):
    """The parser of (kind, source), or None when the source has no such export."""
    return (USAGE_PARSERS if kind == "usage" else BILLING_PARSERS).get(source)
