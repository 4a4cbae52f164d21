"""The normalised catalog entry, validation helpers and the error report shared by the
importers. Importers keep per-row Python small: the newest LiteLLM map has 4,551 rows and
its whole import has a 2 s budget."""

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from evidence.families import Family

MAX_REPORTED_ERRORS = 50  # a report names this many bad entries, then counts the rest
MILLION = Decimal(1_000_000)
DATE_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")


class Availability:
    AVAILABLE = "available"
    DEPRECATION_SCHEDULED = "deprecation_scheduled"
    DEPRECATED = "deprecated"
    CHOICES = [(AVAILABLE, "Available"), (DEPRECATION_SCHEDULED, "Deprecation scheduled"),
               (DEPRECATED, "Deprecated")]
    VALUES = frozenset(c for c, _ in CHOICES)


class PriceUnit:
    """The unit of an entry's main non-token price (token prices have their own columns)."""

    IMAGE = "image"
    SECOND = "second"
    CHARACTER = "character"
    QUERY = "query"
    PAGE = "page"
    TOKEN = "token"
    CHOICES = [(IMAGE, "per image"), (SECOND, "per second"), (CHARACTER, "per character"),
               (QUERY, "per query"), (PAGE, "per page"), (TOKEN, "per token")]
    VALUES = frozenset(c for c, _ in CHOICES)


FAMILIES = frozenset(Family.values)


@dataclass(slots=True)
class Entry:
    """One catalog row, normalised. key is the source's own id and the join key of diffs;
    token prices are USD per 1M tokens; unit_price is USD per price_unit."""

    key: str
    platform: str
    model_id: str
    families: tuple[str, ...]
    vendor: str = ""
    region: str = ""
    mode: str = ""
    input_price: Decimal | None = None
    output_price: Decimal | None = None
    unit_price: Decimal | None = None
    price_unit: str = ""
    context_window: int | None = None
    max_output_tokens: int | None = None
    deprecation_date: date | None = None
    availability: str = Availability.AVAILABLE
    extra: dict = field(default_factory=dict)

    @property
    def family(self) -> str:
        return self.families[0]


@dataclass
class ParseResult:
    entries: list[Entry]
    skipped: Counter  # {reason: count}: meta keys, rows without a mode


class CatalogFileError(Exception):
    """The file cannot be imported; errors is [(entry key or line, why)]."""

    def __init__(self, errors: list[tuple[str, str]], *, total: int | None = None):
        self.errors = errors[:MAX_REPORTED_ERRORS]
        self.total = total if total is not None else len(errors)
        super().__init__(self.summary())

    def summary(self) -> str:
        if self.total == 1 and self.errors:
            where, why = self.errors[0]
            return f"{where}: {why}" if where else why
        return f"{self.total} entries are invalid; nothing was imported."

    def as_report(self) -> dict:
        return {"error": self.summary(), "error_count": self.total,
                "errors": [{"entry": k, "message": m} for k, m in self.errors]}


class Collector:
    """Gathers row errors so one run reports every bad entry, not only the first."""

    def __init__(self):
        self.errors: list[tuple[str, str]] = []

    def add(self, where: str, message: str):
        self.errors.append((where, message))

    def raise_if_any(self):
        if self.errors:
            raise CatalogFileError(self.errors)


def load_json(data: bytes):
    try:
        return json.loads(data)
    except UnicodeDecodeError:
        raise CatalogFileError([("", "The file is not UTF-8 text.")]) from None
    except json.JSONDecodeError as exc:
        raise CatalogFileError(
            [("", f"The file is not valid JSON (line {exc.lineno}, column {exc.colno}: "
                  f"{exc.msg}).")]) from None


def price(value, where: str, name: str, errors: Collector, *, scale: Decimal | None = None):
    """A non-negative decimal (scaled, e.g. per token -> per 1M tokens), or None."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        errors.add(where, f"{name} must be a number, not {value!r}.")
        return None
    try:
        # repr() of a float is its shortest exact spelling, so 1.375e-06 stays 1.375e-06.
        amount = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        errors.add(where, f"{name} must be a number, not {value!r}.")
        return None
    if not amount.is_finite():
        errors.add(where, f"{name} must be a finite number.")
        return None
    if amount < 0:
        errors.add(where, f"{name} is negative ({value}); prices cannot be negative.")
        return None
    return (amount * scale).normalize() if scale is not None else amount


def count(value, where: str, name: str, errors: Collector) -> int | None:
    """A non-negative whole number (floats such as 2000000.0 are cast), or None."""
    if value is None or value == "":
        return None
    try:
        number = float(value) if isinstance(value, str) else value
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise TypeError
        if number != int(number) or number < 0:
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        errors.add(where, f"{name} must be a non-negative whole number, not {value!r}.")
        return None
    return int(number)


def iso_date(value, where: str, name: str, errors: Collector) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        errors.add(where, f"{name} must be a date (YYYY-MM-DD), not {value!r}.")
        return None


def availability_on(deprecation_date: date | None, snapshot_date: date) -> str:
    """available / deprecation scheduled / deprecated, judged on the snapshot's date."""
    if deprecation_date is None:
        return Availability.AVAILABLE
    if deprecation_date <= snapshot_date:
        return Availability.DEPRECATED
    return Availability.DEPRECATION_SCHEDULED


def snapshot_date_from_name(name: str) -> date | None:
    """The date in a file name such as litellm-model-catalog-2026-11-12-v1.109.1.json."""
    match = DATE_IN_NAME.search(name or "")
    if match:
        try:
            return date.fromisoformat(match.group(1))
        except ValueError:
            return None
    return None


_CREATOR_STEMS = (
    ("gpt-", "openai"), ("o1", "openai"), ("o3", "openai"), ("o4", "openai"),
    ("chatgpt", "openai"), ("dall-e", "openai"), ("text-embedding", "openai"),
    ("whisper", "openai"), ("tts-", "openai"), ("sora", "openai"), ("codex", "openai"),
    ("claude", "anthropic"), ("gemini", "google"), ("gemma", "google"), ("imagen", "google"),
    ("veo", "google"), ("llama", "meta"), ("mistral", "mistral"), ("mixtral", "mistral"),
    ("codestral", "mistral"), ("command", "cohere"), ("embed-", "cohere"),
    ("grok", "xai"), ("deepseek", "deepseek"), ("qwen", "alibaba"), ("nova", "amazon"),
    ("titan", "amazon"), ("jamba", "ai21"), ("kimi", "moonshot"), ("glm", "zhipu"),
)


def infer_vendor(model_id: str) -> str:
    """The model's creator from its name, when the name says so ('' otherwise)."""
    name = model_id.rsplit("/", 1)[-1].lower()
    for stem, vendor in _CREATOR_STEMS:
        if name.startswith(stem):
            return vendor
    return ""
