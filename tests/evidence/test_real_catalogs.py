"""The real catalogs from ../shared/data, imported whole (CI). The expected figures are
computed here from the raw JSON in a few plain lines, not with the importer's code."""

import json
import math
from collections import Counter

import pytest

from evidence.diff import catalog_diff
from evidence.importers import CatalogFileError
from evidence.models import CatalogEntry
from tests.evidence.conftest import LITELLM_NEW, LITELLM_OLD, MODELSDEV, import_file, real_file

pytestmark = pytest.mark.django_db

UNIT_FIELDS = ["output_cost_per_image", "input_cost_per_image",
               "output_cost_per_video_per_second", "output_cost_per_second",
               "input_cost_per_second", "input_cost_per_character", "input_cost_per_query",
               "ocr_cost_per_page"]


def models_of(path):
    """{key: row} of the rows that are models with a mode (meta keys have no provider)."""
    raw = json.loads(path.read_text())
    return {k: v for k, v in raw.items()
            if k != "sample_spec" and v.get("litellm_provider") and v.get("mode")}


def prices(row):
    unit = next((row[f] for f in UNIT_FIELDS if row.get(f) is not None), None)
    return row.get("input_cost_per_token"), row.get("output_cost_per_token"), unit


def same(a, b):
    # 14 Databricks rows only lost float noise (2.9999900000000002e-06 -> 2.99999e-06):
    # that is no price change.
    return all(x == y or (x is not None and y is not None and math.isclose(x, y, rel_tol=1e-9))
               for x, y in zip(a, b, strict=True))


def test_both_real_litellm_snapshots_import_with_counts_per_family_and_platform(org_a, owner):
    for name, rows, skipped_no_mode, skipped_meta in ((LITELLM_NEW, 4541, 10, 2),
                                                      (LITELLM_OLD, 2699, 8, 1)):
        path = real_file(name)
        snapshot = import_file(org_a, path, actor=owner)
        raw = models_of(path)
        assert snapshot.entry_count == len(raw) == rows
        assert snapshot.skipped == {"no mode": skipped_no_mode,
                                    "not a model (meta key or no litellm_provider)": skipped_meta}
        entries = CatalogEntry.objects.for_org(org_a).filter(snapshot=snapshot)
        assert entries.count() == rows
        # chat, image and embedding modes map one to one onto their families.
        modes = Counter(v["mode"] for v in raw.values())
        families = snapshot.counts["family"]
        assert families["chat_completions"] == modes["chat"]
        assert families["image_generation"] == modes["image_generation"]
        assert families["embeddings"] == modes["embedding"]
        assert sum(families.values()) == rows
        platforms = snapshot.counts["platform"]
        assert sum(platforms.values()) == rows
        providers = Counter(v["litellm_provider"] for v in raw.values())
        for provider in ("gemini", "xai", "deepinfra", "perplexity"):  # not renamed
            assert platforms[provider] == providers[provider], provider
        # bedrock_converse and bedrock_mantle are the same platform as bedrock.
        assert platforms["bedrock"] == sum(n for p, n in providers.items()
                                           if p in ("bedrock", "bedrock_converse",
                                                    "bedrock_mantle"))
    newest = snapshot.counts  # of 1.85.0 here
    assert newest["family"]["chat_completions"] == 2076


def test_reimport_of_a_real_snapshot_is_refused(org_a):
    path = real_file(LITELLM_OLD)
    first = import_file(org_a, path)
    with pytest.raises(CatalogFileError, match="already imported"):
        import_file(org_a, path)
    assert CatalogEntry.objects.for_org(org_a).count() == first.entry_count


def test_diff_between_the_real_snapshots_matches_the_raw_json(org_a):
    old_path, new_path = real_file(LITELLM_OLD), real_file(LITELLM_NEW)
    old, new = import_file(org_a, old_path), import_file(org_a, new_path)
    before, after = models_of(old_path), models_of(new_path)
    common = before.keys() & after.keys()
    expected = {
        "added": len(after.keys() - before.keys()),
        "removed": len(before.keys() - after.keys()),
        "price_changed": sum(not same(prices(before[k]), prices(after[k])) for k in common),
    }
    counts = catalog_diff(org=org_a, old=old, new=new).counts
    assert {k: counts[k] for k in expected} == expected
    # max_tokens vanished from every row: a semantic diff does not report 876 changes.
    assert counts["context_changed"] < 400


def test_real_modelsdev_snapshot_imports(org_a):
    path = real_file(MODELSDEV)
    snapshot = import_file(org_a, path, format="modelsdev")
    raw = json.loads(path.read_text())
    assert snapshot.entry_count == sum(len(p["models"]) for p in raw.values()) == 4803
    assert len(snapshot.counts["platform"]) == len(raw) == 132
