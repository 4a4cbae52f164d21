"""Importers on their own: the generic and models.dev formats, and bad input of every
kind giving a clear report (the service then writes nothing, see test_catalog.py)."""

import json
from datetime import date
from decimal import Decimal

import pytest

from evidence.importers import CatalogFileError, parse
from tests.evidence.conftest import DATA, SLICE_MODELSDEV, SLICE_NEW

ON = date(2026, 11, 12)


def refused(data, format="litellm", file_name="x.json"):
    with pytest.raises(CatalogFileError) as exc:
        parse(data, format=format, snapshot_date=ON, file_name=file_name)
    return exc.value


def test_generic_csv_maps_every_column():
    result = parse((DATA / "generic.csv").read_bytes(), format="generic", snapshot_date=ON,
                   file_name="generic.csv")
    by_key = {e.key: e for e in result.entries}
    assert set(by_key) == {"openai/gpt-4o", "azure/eu/gpt-4o", "openai/text-embedding-3-small",
                           "openai/dall-e-3", "anthropic/claude-3-opus-20240229"}
    gpt = by_key["openai/gpt-4o"]
    assert gpt.families == ("chat_completions", "responses")
    assert (gpt.input_price, gpt.output_price, gpt.context_window) == (Decimal("2.5"),
                                                                       Decimal("10"), 128000)
    assert (by_key["openai/dall-e-3"].unit_price, by_key["openai/dall-e-3"].price_unit) \
        == (Decimal("0.04"), "image")
    # A past deprecation date wins over the availability column.
    assert by_key["anthropic/claude-3-opus-20240229"].availability == "deprecated"


def test_generic_json_is_accepted():
    result = parse((DATA / "generic.json").read_bytes(), format="generic", snapshot_date=ON)
    assert [e.key for e in result.entries] == ["openai/gpt-4o", "openai/whisper-1"]
    assert result.entries[1].price_unit == "second"


def test_modelsdev_slice_maps_provider_and_costs():
    result = parse(SLICE_MODELSDEV.read_bytes(), format="modelsdev", snapshot_date=ON)
    raw = json.loads(SLICE_MODELSDEV.read_text())
    assert len(result.entries) == sum(len(p["models"]) for p in raw.values())
    first_provider = next(iter(raw))
    model_id, row = next(iter(raw[first_provider]["models"].items()))
    entry = next(e for e in result.entries if e.key == f"{first_provider}/{model_id}")
    assert entry.platform == first_provider
    if row.get("cost", {}).get("input") is not None:
        assert entry.input_price == Decimal(str(row["cost"]["input"]))


def test_not_json_is_refused_with_where_it_broke():
    error = refused(b"{not json")
    assert "not valid JSON" in str(error) and "line 1" in str(error)


def test_json_of_the_wrong_shape_is_refused():
    assert "one JSON object" in str(refused(b"[1, 2, 3]"))
    assert "provider object" in str(refused(b'{"openai": {"name": "OpenAI"}}', "modelsdev"))
    assert "list of entry objects" in str(refused(b'{"rows": 3}', "generic"))
    error = refused(json.dumps({"gpt-4o": "cheap"}).encode())
    assert error.errors == [("gpt-4o", "must be an object of fields, not a str.")]


def test_a_csv_with_a_missing_column_is_refused():
    csv = b"vendor,platform,model_id\nopenai,openai,gpt-4o\n"
    error = refused(csv, "generic", "catalog.csv")
    assert "Missing column(s): families, availability" in str(error)


def test_negative_prices_are_refused_per_entry():
    raw = json.loads(SLICE_NEW.read_text())
    raw["gpt-4o"]["output_cost_per_token"] = -0.00001
    raw["gpt-4.1"]["input_cost_per_token"] = "free"
    error = refused(json.dumps(raw).encode())
    assert error.total == 2
    messages = dict(error.errors)
    assert "negative" in messages["gpt-4o"] and "must be a number" in messages["gpt-4.1"]


def test_an_empty_file_is_refused():
    assert str(refused(b"")) == "The file is empty."
    assert str(refused(b"  \n", "generic")) == "The file is empty."


def test_a_file_without_models_is_refused():
    assert "no model entries" in str(refused(b'{"sample_spec": {}}'))


def test_generic_rows_report_unknown_families_and_duplicates():
    csv = (b"vendor,platform,model_id,families,availability,input_price_per_mtok,"
           b"output_price_per_mtok,context_window,deprecation_date\n"
           b"openai,openai,gpt-4.1,chat,available,1,2,10,\n"
           b"openai,openai,gpt-4o,chat_completions,available,1,2,10,\n"
           b"openai,openai,gpt-4o,chat_completions,available,1,2,10,\n")
    error = refused(csv, "generic", "c.csv")
    assert [where for where, _ in error.errors] == ["line 2", "line 4"]
    assert "unknown endpoint family 'chat'" in error.errors[0][1]
    assert "duplicates line 3" in error.errors[1][1]
