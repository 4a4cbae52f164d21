"""LiteLLM's model cost map (model_prices_and_context_window.json) -> entries.

Mapping (shared/data/README.md, "Suggested mapping"): the full key is the entry key and the
diff join key; `litellm_provider`, normalised, is the platform; the key minus a leading
platform prefix is the model id, and a leading region or deployment segment (`eu/`,
`us-east-1/`, `1-month-commitment/`) or geo dot-prefix (`us.`) becomes the region. `mode`
gives the family, `supported_endpoints` adds more. Token prices are stored per 1M tokens.
"""

import re
from collections import Counter

from evidence.families import Family
from evidence.importers.common import (
    MILLION,
    CatalogFileError,
    Collector,
    Entry,
    ParseResult,
    PriceUnit,
    availability_on,
    count,
    infer_vendor,
    iso_date,
    load_json,
    price,
)

META_KEYS = frozenset({"sample_spec", "fallback_generalizations"})
SKIP_NOT_MODEL = "not a model (meta key or no litellm_provider)"
SKIP_NO_MODE = "no mode"

FAMILY_BY_MODE = {
    "chat": Family.CHAT_COMPLETIONS,
    "responses": Family.RESPONSES,
    "embedding": Family.EMBEDDINGS,
    "image_generation": Family.IMAGE_GENERATION,
    "image_edit": Family.IMAGE_EDIT,
    "video_generation": Family.VIDEO_GENERATION,
    "audio_transcription": Family.AUDIO_TRANSCRIPTION,
    "audio_speech": Family.AUDIO_SPEECH,
    "realtime": Family.REALTIME,
}  # every other mode (completion, rerank, search, ocr, moderation...) is "other"

FAMILY_BY_ENDPOINT = {
    "/v1/chat/completions": Family.CHAT_COMPLETIONS,
    "/v1/responses": Family.RESPONSES,
    "/v1/messages": Family.MESSAGES,
    "/v1/embeddings": Family.EMBEDDINGS,
    "/v1/images/generations": Family.IMAGE_GENERATION,
    "/v1/images/edits": Family.IMAGE_EDIT,
    "/v1/videos": Family.VIDEO_GENERATION,
    "/v1/audio/transcriptions": Family.AUDIO_TRANSCRIPTION,
    "/v1/audio/speech": Family.AUDIO_SPEECH,
    "/v1/realtime": Family.REALTIME,
}  # /v1/batch is a delivery option, not a family

# The first of these that a row carries is its main non-token price.
UNIT_PRICES = (
    ("output_cost_per_image", PriceUnit.IMAGE),
    ("input_cost_per_image", PriceUnit.IMAGE),
    ("output_cost_per_video_per_second", PriceUnit.SECOND),
    ("output_cost_per_second", PriceUnit.SECOND),
    ("input_cost_per_second", PriceUnit.SECOND),
    ("input_cost_per_character", PriceUnit.CHARACTER),
    ("input_cost_per_query", PriceUnit.QUERY),
    ("ocr_cost_per_page", PriceUnit.PAGE),
)

PLATFORM_ALIASES = {
    "bedrock_converse": "bedrock", "bedrock_mantle": "bedrock", "cohere_chat": "cohere",
    "azure_text": "azure", "text-completion-openai": "openai",
    "text-completion-codestral": "codestral",
}
PLATFORM_VENDOR = {"openai": "openai", "anthropic": "anthropic", "gemini": "google",
                   "mistral": "mistral", "cohere": "cohere", "xai": "xai",
                   "deepseek": "deepseek", "codestral": "mistral"}
CREATOR_SUFFIX = re.compile(r"^(?P<platform>.+?)-(?P<creator>[a-z0-9]+)_models$")
KIND_SUFFIX = re.compile(r"-(language|embedding|text|video)-models$")
REGION_SEGMENT = re.compile(
    r"^(\*|eu|us|global|global-standard|data-zone|apac|jp|au|ca|uk|us-gov"
    r"|[a-z]{2}(-gov)?-[a-z]+-\d+|\d+-months?-commitment)$"
)
GEO_PREFIX = re.compile(r"^(us|eu|apac|jp|au|ca|global|us-gov)\.(?=[\w-]+\.)")
BEDROCK_CREATORS = frozenset({"anthropic", "meta", "amazon", "cohere", "mistral", "ai21",
                              "writer", "deepseek", "qwen", "openai", "stability", "twelvelabs"})


def _platform(provider: str) -> tuple[str, str]:
    """(platform, creator implied by the provider name or '')."""
    if provider in PLATFORM_ALIASES:
        return PLATFORM_ALIASES[provider], ""
    if match := CREATOR_SUFFIX.match(provider):
        return match["platform"], match["creator"]
    return KIND_SUFFIX.sub("", provider), ""


def _split_key(key: str, provider: str, platform: str) -> tuple[str, str]:
    """(model id, region) from a LiteLLM key."""
    rest = key
    for prefix in (provider + "/", platform + "/"):
        if rest.startswith(prefix):
            rest = rest[len(prefix):]
            break
    regions = []
    while "/" in rest:
        head, tail = rest.split("/", 1)
        if not REGION_SEGMENT.match(head):
            break
        regions.append(head)
        rest = tail
    if match := GEO_PREFIX.match(rest):
        regions.append(match.group(1))
        rest = rest[match.end():]
    return rest, "/".join(regions)


def _vendor(model_id: str, platform: str, creator: str) -> str:
    if creator:
        return creator
    if "." in model_id and (head := model_id.split(".", 1)[0]) in BEDROCK_CREATORS:
        return head
    return infer_vendor(model_id) or PLATFORM_VENDOR.get(platform, "")


def _families(mode: str, endpoints) -> tuple[str, ...]:
    primary = FAMILY_BY_MODE.get(mode, Family.OTHER)
    if not endpoints or not isinstance(endpoints, list):
        return (primary,)
    more = {FAMILY_BY_ENDPOINT[e] for e in endpoints if e in FAMILY_BY_ENDPOINT}
    if primary == Family.OTHER and more:
        # A row whose mode we do not map but whose endpoints say what it serves.
        primary = sorted(more)[0]
    more.discard(primary)
    return (primary, *sorted(more))


def _entry(key: str, row: dict, snapshot_date, errors: Collector, cache: dict) -> Entry:
    provider = row["litellm_provider"]
    if provider not in cache:
        cache[provider] = _platform(str(provider))
    platform, creator = cache[provider]
    model_id, region = _split_key(key, provider, platform)
    unit_price, unit = None, ""
    for field, price_unit in UNIT_PRICES:
        if (value := row.get(field)) is not None:
            unit_price, unit = price(value, key, field, errors), price_unit
            break
    deprecation = iso_date(row.get("deprecation_date"), key, "deprecation_date", errors)
    capabilities = sorted(k[9:] for k, v in row.items() if k.startswith("supports_") and v is True)
    return Entry(
        key=key, platform=platform, model_id=model_id, region=region,
        vendor=_vendor(model_id, platform, creator), mode=row["mode"],
        families=_families(row["mode"], row.get("supported_endpoints")),
        input_price=price(row.get("input_cost_per_token"), key, "input_cost_per_token",
                          errors, scale=MILLION),
        output_price=price(row.get("output_cost_per_token"), key, "output_cost_per_token",
                           errors, scale=MILLION),
        unit_price=unit_price, price_unit=unit,
        context_window=count(row.get("max_input_tokens"), key, "max_input_tokens", errors),
        max_output_tokens=count(row.get("max_output_tokens"), key, "max_output_tokens", errors),
        deprecation_date=deprecation,
        availability=availability_on(deprecation, snapshot_date),
        extra={"capabilities": capabilities} if capabilities else {},
    )


def parse(data: bytes, *, snapshot_date, file_name: str = "") -> ParseResult:
    """Every model row of a LiteLLM map, validated; meta keys and rows without a mode are
    skipped and counted. Raises CatalogFileError naming every bad row."""
    document = load_json(data)
    if not isinstance(document, dict):
        raise CatalogFileError([("", "A LiteLLM map is one JSON object of "
                                     f"{{model key: fields}}, not a {type(document).__name__}.")])
    errors, skipped, entries, cache = Collector(), Counter(), [], {}
    for key, row in document.items():
        if key in META_KEYS:
            skipped[SKIP_NOT_MODEL] += 1
            continue
        if not isinstance(row, dict):
            errors.add(key, f"must be an object of fields, not a {type(row).__name__}.")
            continue
        if not row.get("litellm_provider"):
            skipped[SKIP_NOT_MODEL] += 1
            continue
        if not row.get("mode"):
            skipped[SKIP_NO_MODE] += 1
            continue
        if not key.strip():
            errors.add(repr(key), "the model key is empty.")
            continue
        entries.append(_entry(key, row, snapshot_date, errors, cache))
    errors.raise_if_any()
    if not entries:
        raise CatalogFileError([("", "The file holds no model entries (is it a LiteLLM map?).")])
    return ParseResult(entries=entries, skipped=skipped)
