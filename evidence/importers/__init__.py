"""Catalog importers: each turns one file's bytes into normalised entries, or a report.

`parse(data, format=..., snapshot_date=...)` validates the whole file before anything is
written: it returns every entry and the skipped counts, or raises CatalogFileError with
the bad entries and why (all-or-nothing, see evidence.catalog.catalog_import).
"""

from evidence.importers.common import (
    MAX_REPORTED_ERRORS,
    CatalogFileError,
    Entry,
    ParseResult,
    snapshot_date_from_name,
)


class Format:
    LITELLM = "litellm"
    MODELSDEV = "modelsdev"
    GENERIC = "generic"
    CHOICES = [(LITELLM, "LiteLLM model cost map (JSON)"), (MODELSDEV, "models.dev api.json"),
               (GENERIC, "Generic (CSV or JSON, see docs/catalog-formats.md)")]
    SOURCE_NAMES = {LITELLM: "LiteLLM model cost map", MODELSDEV: "models.dev"}


def parse(data: bytes, *, format: str, snapshot_date, file_name: str = "") -> ParseResult:
    """Parse and validate one catalog file (raises CatalogFileError on any bad entry)."""
    from evidence.importers import generic, litellm, modelsdev

    parsers = {Format.LITELLM: litellm.parse, Format.MODELSDEV: modelsdev.parse,
               Format.GENERIC: generic.parse}
    if format not in parsers:
        raise CatalogFileError([("", f"Unknown format {format!r}: use litellm, modelsdev "
                                     "or generic.")])
    if not data or not data.strip():
        raise CatalogFileError([("", "The file is empty.")])
    return parsers[format](data, snapshot_date=snapshot_date, file_name=file_name)


__all__ = ["MAX_REPORTED_ERRORS", "CatalogFileError", "Entry", "Format", "ParseResult",
           "parse", "snapshot_date_from_name"]
