"""The documented generic format (docs/catalog-formats.md), as CSV or JSON.

Columns (CSV header, or keys of each JSON object; the JSON document is a list of objects
or {"entries": [...]}): vendor, platform, model_id, region, families, availability,
input_price_per_mtok, output_price_per_mtok, unit_price, price_unit, context_window,
max_output_tokens, deprecation_date. Only the REQUIRED columns must exist; cells may be
empty. `families` is a list (JSON) or '|'-separated (CSV); the first is the main family.
A deprecation date decides availability; without one the availability column does.
"""

import csv
import io
from collections import Counter

from evidence.importers.common import (
    FAMILIES,
    Availability,
    CatalogFileError,
    Collector,
    Entry,
    ParseResult,
    PriceUnit,
    availability_on,
    count,
    iso_date,
    load_json,
    price,
)

REQUIRED = ("vendor", "platform", "model_id", "families", "availability",
            "input_price_per_mtok", "output_price_per_mtok", "context_window",
            "deprecation_date")
OPTIONAL = ("region", "unit_price", "price_unit", "max_output_tokens")


def _families(value, where: str, errors: Collector) -> tuple[str, ...]:
    items = value if isinstance(value, list) else str(value or "").split("|")
    families = tuple(dict.fromkeys(str(f).strip() for f in items if str(f).strip()))
    if not families:
        errors.add(where, "families is empty: give at least one endpoint family.")
    for family in families:
        if family not in FAMILIES:
            errors.add(where, f"unknown endpoint family {family!r} (one of "
                              f"{', '.join(sorted(FAMILIES))}).")
    return families or ("other",)


def _entry(row: dict, where: str, snapshot_date, errors: Collector) -> Entry:
    text = {k: str(row.get(k) or "").strip() for k in ("vendor", "platform", "model_id",
                                                       "region", "price_unit", "availability")}
    for name in ("platform", "model_id"):
        if not text[name]:
            errors.add(where, f"{name} is empty.")
    unit = text["price_unit"]
    if unit and unit not in PriceUnit.VALUES:
        errors.add(where, f"price_unit must be one of {', '.join(sorted(PriceUnit.VALUES))}.")
    deprecation = iso_date(row.get("deprecation_date"), where, "deprecation_date", errors)
    availability = text["availability"] or Availability.AVAILABLE
    if availability not in Availability.VALUES:
        errors.add(where, f"availability must be one of {', '.join(sorted(Availability.VALUES))}.")
    if deprecation is not None:
        availability = availability_on(deprecation, snapshot_date)
    region = text["region"]
    unit_price = price(row.get("unit_price"), where, "unit_price", errors)
    if unit_price is not None and not unit:
        errors.add(where, "unit_price needs a price_unit.")
    return Entry(
        key="/".join(p for p in (text["platform"], region, text["model_id"]) if p),
        platform=text["platform"], model_id=text["model_id"], region=region,
        vendor=text["vendor"], families=_families(row.get("families"), where, errors),
        input_price=price(row.get("input_price_per_mtok"), where, "input_price_per_mtok",
                          errors),
        output_price=price(row.get("output_price_per_mtok"), where, "output_price_per_mtok",
                           errors),
        unit_price=unit_price, price_unit=unit if unit_price is not None else "",
        context_window=count(row.get("context_window"), where, "context_window", errors),
        max_output_tokens=count(row.get("max_output_tokens"), where, "max_output_tokens",
                                errors),
        deprecation_date=deprecation, availability=availability,
    )


def _rows(data: bytes, file_name: str) -> list[tuple[str, dict]]:
    """[(where, row)] from CSV or JSON; a missing required column is a file error."""
    stripped = data.lstrip()
    if stripped[:1] in (b"[", b"{") or file_name.lower().endswith(".json"):
        document = load_json(data)
        if isinstance(document, dict):
            document = document.get("entries")
        if not isinstance(document, list) or not all(isinstance(r, dict) for r in document):
            raise CatalogFileError([("", "A generic JSON file is a list of entry objects, or "
                                         '{"entries": [...]}.')])
        rows = [(f"entry {i}", r) for i, r in enumerate(document, 1)]
        columns = set().union(*(r.keys() for r in document)) if document else set()
    else:
        try:
            reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
            rows = [(f"line {i}", r) for i, r in enumerate(reader, 2)]
        except (UnicodeDecodeError, csv.Error) as exc:
            raise CatalogFileError([("", f"The CSV cannot be read: {exc}.")]) from None
        columns = set(reader.fieldnames or ())
    if missing := [c for c in REQUIRED if c not in columns]:
        raise CatalogFileError([("", f"Missing column(s): {', '.join(missing)}. Required: "
                                     f"{', '.join(REQUIRED)}.")])
    return rows


def parse(data: bytes, *, snapshot_date, file_name: str = "") -> ParseResult:
    """Every row of a generic CSV or JSON catalog, validated; duplicate keys are errors."""
    errors, entries, seen = Collector(), [], {}
    for where, row in _rows(data, file_name):
        entry = _entry(row, where, snapshot_date, errors)
        if entry.key in seen:
            errors.add(where, f"duplicates {seen[entry.key]} ({entry.key}).")
        seen[entry.key] = where
        entries.append(entry)
    errors.raise_if_any()
    if not entries:
        raise CatalogFileError([("", "The file holds no entries.")])
    return ParseResult(entries=entries, skipped=Counter())
