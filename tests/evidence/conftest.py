"""Catalog fixtures: the small slices in tests/evidence/data, and the real catalogs in
../shared/data (CI has shared/ beside the clone; a missing file fails, never skips)."""

from datetime import date
from pathlib import Path

import pytest
from django.conf import settings

from evidence.catalog import catalog_import

DATA = Path(__file__).resolve().parent / "data"
REAL = settings.BASE_DIR.parent / "shared" / "data"
LITELLM_OLD = "litellm-model-catalog-2026-05-17-v1.85.0.json"
LITELLM_NEW = "litellm-model-catalog-2026-11-12-v1.109.1.json"
MODELSDEV = "modelsdev-catalog-2026-05-21-v1.0.398.json"
SLICE_OLD = DATA / "litellm-slice-2026-05-17-v1.85.0.json"
SLICE_NEW = DATA / "litellm-slice-2026-11-12-v1.109.1.json"
SLICE_MODELSDEV = DATA / "modelsdev-slice-2026-05-21-v1.0.398.json"


def real_file(name: str) -> Path:
    path = REAL / name
    if not path.is_file():
        pytest.fail(f"The real catalog {path} is missing: CI needs the shared/ folder "
                    "beside the repository (see shared/data/README.md).")
    return path


def import_file(org, path: Path, *, actor=None, format="litellm", **kwargs):
    return catalog_import(org=org, actor=actor, data=path.read_bytes(), format=format,
                          source_ref=path.name, **kwargs)


@pytest.fixture
def slice_old(org_a, owner):
    return import_file(org_a, SLICE_OLD, actor=owner)


@pytest.fixture
def slice_new(org_a, owner):
    return import_file(org_a, SLICE_NEW, actor=owner)


@pytest.fixture
def slice_b(org_b, outsider):
    """org B's own copy of the newer slice: same file, another org."""
    return import_file(org_b, SLICE_NEW, actor=outsider)


TODAY = date(2026, 11, 22)
