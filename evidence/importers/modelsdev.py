"""models.dev's api.json -> entries.

`{provider: {id, name, models: {model id: {cost, limit, modalities, status, ...}}}}`. The
provider id is the platform and `<provider>/<model id>` the entry key. models.dev has no
endpoint family: it is inferred from the output modalities (image, video, audio) and from
embedding names, else chat completions. Costs are already USD per 1M tokens; `limit.context`
is the total window (0 means unknown). `status: deprecated` is the availability signal.
"""

from collections import Counter

from evidence.families import Family
from evidence.importers.common import (
    Availability,
    CatalogFileError,
    Collector,
    Entry,
    ParseResult,
    count,
    infer_vendor,
    load_json,
    price,
)

SKIP_NO_MODELS = "provider without a models object"


def _family(model_id: str, outputs) -> str:
    outputs = set(outputs or ())
    if "image" in outputs:
        return Family.IMAGE_GENERATION
    if "video" in outputs:
        return Family.VIDEO_GENERATION
    if "audio" in outputs and "text" not in outputs:
        return Family.AUDIO_SPEECH
    if "embed" in model_id.lower():
        return Family.EMBEDDINGS
    return Family.CHAT_COMPLETIONS


def _entry(provider: str, model_id: str, row: dict, errors: Collector) -> Entry:
    key = f"{provider}/{model_id}"
    cost = row.get("cost") if isinstance(row.get("cost"), dict) else {}
    limit = row.get("limit") if isinstance(row.get("limit"), dict) else {}
    modalities = row.get("modalities") if isinstance(row.get("modalities"), dict) else {}
    context = count(limit.get("context"), key, "limit.context", errors)
    deprecated = row.get("status") == "deprecated"
    vendor = model_id.split("/", 1)[0] if "/" in model_id else infer_vendor(model_id)
    return Entry(
        key=key, platform=provider, model_id=model_id, vendor=vendor,
        families=(_family(model_id, modalities.get("output")),),
        input_price=price(cost.get("input"), key, "cost.input", errors),
        output_price=price(cost.get("output"), key, "cost.output", errors),
        context_window=context or None,
        max_output_tokens=count(limit.get("output"), key, "limit.output", errors) or None,
        availability=Availability.DEPRECATED if deprecated else Availability.AVAILABLE,
        extra={k: row[k] for k in ("release_date", "status") if row.get(k)},
    )


def parse(data: bytes, *, snapshot_date, file_name: str = "") -> ParseResult:
    """Every (provider, model) row of a models.dev snapshot, validated."""
    document = load_json(data)
    if not isinstance(document, dict):
        raise CatalogFileError([("", "A models.dev file is one JSON object of "
                                     f"{{provider: {{models: ...}}}}, not a "
                                     f"{type(document).__name__}.")])
    errors, skipped, entries = Collector(), Counter(), []
    for provider, body in document.items():
        if not isinstance(body, dict) or not isinstance(body.get("models"), dict):
            errors.add(provider, "must be a provider object with a 'models' object.")
            continue
        for model_id, row in body["models"].items():
            if not isinstance(row, dict):
                errors.add(f"{provider}/{model_id}", "must be an object of fields.")
                continue
            entries.append(_entry(provider, model_id, row, errors))
    errors.raise_if_any()
    if not entries:
        raise CatalogFileError([("", "The file holds no models (is it a models.dev file?).")])
    return ParseResult(entries=entries, skipped=skipped)
