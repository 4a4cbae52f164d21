"""catalog_diff on the two LiteLLM slices: every change kind, with old and new values."""

import json

import pytest
from django.core.exceptions import ValidationError

from evidence.catalog import catalog_import
from evidence.diff import catalog_diff
from tests.evidence.conftest import SLICE_NEW, SLICE_OLD

pytestmark = pytest.mark.django_db


def _keys(path):
    raw = json.loads(path.read_text())
    return {k for k, v in raw.items()
            if k != "sample_spec" and v.get("litellm_provider") and v.get("mode")}


def test_diff_lists_added_and_removed_entries(org_a, slice_old, slice_new):
    result = catalog_diff(org=org_a, old=slice_old, new=slice_new)
    old, new = _keys(SLICE_OLD), _keys(SLICE_NEW)
    assert {c["key"] for c in result.changes if c["change"] == "added"} == new - old
    assert {c["key"] for c in result.changes if c["change"] == "removed"} == old - new
    assert result.counts["added"] == len(new - old)


def test_diff_reports_old_and_new_values(org_a, slice_old, slice_new):
    result = catalog_diff(org=org_a, old=slice_old, new=slice_new)
    for change in result.changes:
        if change["change"] in ("added", "removed"):
            assert change["old"] is None and change["new"] is None
        else:
            assert change["old"] != change["new"], change
            assert change["old"].keys() == change["new"].keys()
    scheduled = [c for c in result.changes if c["change"] == "deprecation_scheduled"]
    assert all(c["old"]["deprecation_date"] is None for c in scheduled)
    as_dict = result.as_dict()
    assert set(as_dict["counts"]) == {"added", "removed", "price_changed", "context_changed",
                                      "family_changed", "deprecation_scheduled",
                                      "deprecation_changed"}
    assert sum(sum(row.values()) for row in as_dict["by_platform"].values()) \
        == len(result.changes)
    json.dumps(as_dict)  # serialisable as is: dates and decimals are strings


def test_a_field_vanishing_from_every_row_is_not_a_change(org_a):
    raw = json.loads(SLICE_NEW.read_text())
    old = catalog_import(org=org_a, actor=None, data=json.dumps(raw).encode(),
                         format="litellm", source_ref="a-2026-01-01.json")
    for row in raw.values():
        row.pop("source", None)
        row["brand_new_field"] = True
    new = catalog_import(org=org_a, actor=None, data=json.dumps(raw).encode(),
                         format="litellm", source_ref="b-2026-02-01.json")
    assert catalog_diff(org=org_a, old=old, new=new).changes == []


def test_a_price_change_is_reported_with_both_prices(org_a):
    raw = json.loads(SLICE_NEW.read_text())
    old = catalog_import(org=org_a, actor=None, data=json.dumps(raw).encode(),
                         format="litellm", source_ref="a-2026-01-01.json")
    raw["gpt-4o"]["input_cost_per_token"] = 5e-06
    raw["gpt-4o"]["max_input_tokens"] = 1000
    new = catalog_import(org=org_a, actor=None, data=json.dumps(raw).encode(),
                         format="litellm", source_ref="b-2026-02-01.json")
    result = catalog_diff(org=org_a, old=old, new=new)
    assert result.counts["price_changed"] == result.counts["context_changed"] == 1
    price = next(c for c in result.changes if c["change"] == "price_changed")
    assert (str(price["old"]["input_price"]), str(price["new"]["input_price"])) \
        == ("2.500000000000", "5.000000000000")


def test_snapshots_of_different_sources_cannot_be_compared(org_a, slice_new):
    from tests.evidence.conftest import SLICE_MODELSDEV

    other = catalog_import(org=org_a, actor=None, data=SLICE_MODELSDEV.read_bytes(),
                           format="modelsdev", source_ref="m.json")
    with pytest.raises(ValidationError, match="different sources"):
        catalog_diff(org=org_a, old=other, new=slice_new)


def test_another_orgs_snapshot_cannot_be_compared(org_a, slice_new, slice_b):
    with pytest.raises(ValidationError, match="belong to this organization"):
        catalog_diff(org=org_a, old=slice_b, new=slice_new)
