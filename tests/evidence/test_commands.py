"""manage.py import_catalog and diff_catalog."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from evidence.models import CatalogSnapshot
from tests.evidence.conftest import SLICE_NEW, SLICE_OLD

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_import_then_diff(org_a):
    assert "Imported" in run("import_catalog", str(SLICE_OLD), "--format", "litellm",
                             "--org", "acme")
    run("import_catalog", str(SLICE_NEW), "--format", "litellm", "--org", "acme")
    new, old = CatalogSnapshot.objects.for_org(org_a).order_by("-snapshot_date")
    text = run("diff_catalog", str(old.public_id), str(new.public_id))
    assert "Added" in text and "Price changed" in text
    body = json.loads(run("diff_catalog", str(old.public_id), str(new.public_id),
                          "--format", "json"))
    assert body["old"]["id"] == str(old.public_id) and "by_family" in body


def test_reimport_is_refused_by_the_command(org_a):
    run("import_catalog", str(SLICE_NEW), "--format", "litellm", "--org", "acme")
    with pytest.raises(CommandError, match="already imported"):
        run("import_catalog", str(SLICE_NEW), "--format", "litellm", "--org", "acme")


def test_an_unknown_org_or_missing_file_is_an_error(org_a, tmp_path):
    with pytest.raises(CommandError, match="No organization"):
        run("import_catalog", str(SLICE_NEW), "--format", "litellm", "--org", "nope")
    with pytest.raises(CommandError, match="is not a file"):
        run("import_catalog", str(tmp_path / "x.json"), "--format", "litellm", "--org", "acme")


def test_diff_needs_snapshots_of_the_org(org_a, org_b, slice_new, slice_b):
    with pytest.raises(CommandError, match="No snapshot"):
        run("diff_catalog", str(slice_new.public_id), str(slice_b.public_id))
