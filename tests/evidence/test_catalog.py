"""catalog_import: mapping of the LiteLLM slice, all-or-nothing, re-import refusal, audit,
immutability."""

import json
from datetime import date
from decimal import Decimal

import pytest

from evidence.catalog import catalog_import
from evidence.importers import CatalogFileError
from evidence.models import CatalogEntry, CatalogSnapshot, ImmutableError
from orgs.audit import AuditEvent
from orgs.events import NotificationEvent
from tests.evidence.conftest import SLICE_NEW, SLICE_OLD, import_file

pytestmark = pytest.mark.django_db


def _entry(snapshot, key):
    return CatalogEntry.objects.for_org(snapshot.org).get(snapshot=snapshot, key=key)


def test_import_maps_the_slice_and_counts_skipped_rows(org_a, owner):
    snapshot = import_file(org_a, SLICE_NEW, actor=owner)
    raw = json.loads(SLICE_NEW.read_text())
    models = [k for k, v in raw.items() if v.get("litellm_provider") and k != "sample_spec"]
    with_mode = [k for k in models if raw[k].get("mode")]
    assert snapshot.entry_count == len(with_mode) == snapshot.entries.count()
    assert snapshot.skipped == {"not a model (meta key or no litellm_provider)": 2,
                                "no mode": len(models) - len(with_mode)}
    assert snapshot.snapshot_date == date(2026, 11, 12)  # from the file name
    assert snapshot.imported_by == owner.user and len(snapshot.sha256) == 64
    assert sum(snapshot.counts["family"].values()) == snapshot.entry_count

    eu = _entry(snapshot, "azure/eu/gpt-4o")
    assert (eu.platform, eu.model_id, eu.region, eu.vendor) == ("azure", "gpt-4o", "eu", "openai")
    gpt = _entry(snapshot, "gpt-4o")
    assert gpt.input_price == Decimal("2.5") and gpt.output_price == Decimal("10")
    assert gpt.family == "chat_completions" and gpt.context_window == 128000
    geo = _entry(snapshot, "us.amazon.nova-canvas-v1:0")
    assert (geo.platform, geo.region, geo.vendor) == ("bedrock", "us", "amazon")
    assert geo.model_id == "amazon.nova-canvas-v1:0"
    commitment = _entry(snapshot, "bedrock/*/1-month-commitment/cohere.command-text-v14")
    assert (commitment.region, commitment.model_id) == ("*/1-month-commitment",
                                                        "cohere.command-text-v14")
    assert commitment.price_unit == "second"
    vertex = _entry(snapshot, "vertex_ai/claude-sonnet-4-5")
    assert (vertex.platform, vertex.vendor) == ("vertex_ai", "anthropic")
    image = _entry(snapshot, "amazon.nova-canvas-v1:0")
    assert (image.family, image.price_unit) == ("image_generation", "image")


def test_availability_is_judged_on_the_snapshot_date(org_a):
    snapshot = import_file(org_a, SLICE_NEW)
    entries = CatalogEntry.objects.for_org(org_a).filter(snapshot=snapshot)
    for entry in entries.exclude(deprecation_date=None):
        expected = ("deprecated" if entry.deprecation_date <= date(2026, 11, 12)
                    else "deprecation_scheduled")
        assert entry.availability == expected, entry.key
    assert set(entries.filter(deprecation_date=None).values_list("availability", flat=True)) \
        == {"available"}


def test_float_context_values_are_cast_to_int(org_a):
    snapshot = import_file(org_a, SLICE_OLD)
    assert _entry(snapshot, "xai/grok-4-fast-reasoning").context_window == 2_000_000


def test_import_writes_one_audit_event_and_one_notification(org_a, owner):
    snapshot = import_file(org_a, SLICE_NEW, actor=owner)
    event = AuditEvent.objects.for_org(org_a).get(action="catalog.imported")
    assert event.object_id == str(snapshot.public_id) and event.actor == owner.user
    assert event.changes["entry_count"] == [None, snapshot.entry_count]
    assert NotificationEvent.objects.for_org(org_a).get(kind="catalog.imported").subject_id \
        == str(snapshot.public_id)


def test_reimport_of_the_same_file_is_refused_politely(org_a, owner):
    first = import_file(org_a, SLICE_NEW, actor=owner)
    with pytest.raises(CatalogFileError) as exc:
        import_file(org_a, SLICE_NEW, actor=owner)
    assert "already imported" in str(exc.value) and str(first) in str(exc.value)
    assert exc.value.duplicate_of == first
    assert CatalogSnapshot.objects.for_org(org_a).count() == 1
    assert AuditEvent.objects.for_org(org_a).filter(action="catalog.imported").count() == 1


def test_the_same_file_in_another_org_is_a_separate_snapshot(org_a, org_b):
    import_file(org_a, SLICE_NEW)
    import_file(org_b, SLICE_NEW)
    assert CatalogSnapshot.objects.for_org(org_b).count() == 1


def test_one_bad_entry_writes_nothing_and_names_every_bad_entry(org_a):
    raw = json.loads(SLICE_NEW.read_text())
    raw["gpt-4o"]["input_cost_per_token"] = -1e-06
    raw["tts-1"]["deprecation_date"] = "soon"
    with pytest.raises(CatalogFileError) as exc:
        catalog_import(org=org_a, actor=None, data=json.dumps(raw).encode(),
                       format="litellm", source_ref="bad.json")
    report = exc.value.as_report()
    assert report["error_count"] == 2
    assert {e["entry"] for e in report["errors"]} == {"gpt-4o", "tts-1"}
    assert "negative" in report["errors"][0]["message"] + report["errors"][1]["message"]
    assert not CatalogSnapshot.objects.for_org(org_a).exists()
    assert not CatalogEntry.objects.for_org(org_a).exists()
    assert not AuditEvent.objects.for_org(org_a).filter(action="catalog.imported").exists()


def test_snapshots_and_entries_are_immutable(org_a):
    snapshot = import_file(org_a, SLICE_NEW)
    snapshot.source_name = "changed"
    with pytest.raises(ImmutableError):
        snapshot.save()
    with pytest.raises(ImmutableError):
        snapshot.delete()
    with pytest.raises(ImmutableError):
        CatalogEntry.objects.for_org(org_a).update(model_id="x")
    with pytest.raises(ImmutableError):
        CatalogSnapshot.objects.for_org(org_a).delete()
    entry = snapshot.entries.first()
    entry.input_price = 0
    with pytest.raises(ImmutableError):
        entry.save()
