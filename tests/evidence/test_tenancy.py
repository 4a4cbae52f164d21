"""Catalog routes with another org's snapshot, entry or import job answer 404 on real
imported catalogs (tests/test_tenancy.py walks the same routes on one-entry catalogs),
and the list filters refuse another org's snapshot as an invalid choice."""

import pytest
from django.urls import reverse

from evidence.models import ImportJob
from tests.conftest import login

pytestmark = pytest.mark.django_db


def test_other_orgs_catalog_objects_are_404(client, owner, org_b, slice_new, slice_b):
    login(client, owner)
    job = ImportJob.objects.create(org=org_b, format="litellm", source_name="x",
                                   source_ref="x.json")
    entry = slice_b.entries.first()
    pages = [reverse("evidence:snapshot_detail", args=["acme", slice_b.public_id]),
             reverse("evidence:model_detail", args=["acme", entry.public_id]),
             reverse("evidence:import_job", args=["acme", job.public_id])]
    api = "/api/v1/o/acme/catalog/"
    pages += [f"{api}snapshots/{slice_b.public_id}/", f"{api}models/{entry.public_id}/",
              f"{api}imports/{job.public_id}/"]
    for url in pages:
        assert client.get(url).status_code == 404, url
    # Query parameters naming another org's snapshot are invalid choices, not data.
    listing = client.get(reverse("evidence:catalog_list", args=["acme"]),
                         {"snapshot": slice_b.public_id})
    assert listing.status_code == 400
    assert client.get(f"{api}entries/", {"snapshot": slice_b.public_id}).status_code == 400
