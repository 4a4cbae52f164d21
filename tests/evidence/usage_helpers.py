"""Helpers of the usage import tests: the example files, a key whose prefix the files
name, and a priced catalog entry."""

import io
from decimal import Decimal
from pathlib import Path

from evidence.models import CatalogEntry, CatalogSnapshot, UsageImport
from evidence.usage.services import usage_import_stream

USAGE_DATA = Path(__file__).resolve().parent / "data" / "usage"


def example(name: str, key=None) -> bytes:
    data = (USAGE_DATA / name).read_bytes()
    return data.replace(b"KEYPREFIX", key.prefix.encode()) if key is not None else data


def run_import(org, actor, data: bytes, *, kind="usage", source="api", name="file"):
    """A job for data, run through the service directly; returns the refreshed job."""
    job = UsageImport.objects.create(org=org, kind=kind, source=source, source_ref=name,
                                     created_by=actor)
    usage_import_stream(org=org, actor=actor, job=job, stream=io.BufferedReader(
        io.BytesIO(data)), size=len(data))
    job.refresh_from_db()
    return job


def priced_catalog(org, model="gpt-test", *, input_price="2.5", output_price="10"):
    """A snapshot with one priced entry (USD per 1M tokens)."""
    snapshot = CatalogSnapshot.objects.create(
        org=org, source_name="litellm", format="litellm", source_ref="c.json",
        sha256=f"{model}".ljust(64, "0")[:64], snapshot_date="2026-11-01")
    CatalogEntry.objects.create(
        org=org, snapshot=snapshot, key=f"openai/{model}", platform="openai", vendor="openai",
        model_id=model, family="chat_completions", families="|chat_completions|",
        availability="available", input_price=Decimal(input_price),
        output_price=Decimal(output_price))
    return snapshot
