"""Issue 13.3: rotating a key must not cut off the rows bound to it. A row bound to a key
covers the key's rotation lineage: the successor at once, the old key until its overlap
ends, then only the successor. Asked through the HTTP endpoint, as a gateway does."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from projects import keys
from projects.models import ApiKey
from tests.projects.conftest import make_key

pytestmark = pytest.mark.django_db
BODY = {"model": "gpt-chat", "action": "chat", "data_class": "internal",
        "environment": "production"}
HOUR = 3600


def decision(secret) -> dict:
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    response = http.post("/api/v1/decisions", BODY, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def rotate(org, actor, key, overlap=HOUR):
    return keys.key_rotate(org=org, actor=actor, key=ApiKey.objects.get(pk=key.pk),
                           overlap_seconds=overlap)


def test_a_row_bound_to_a_rotated_key_allows_both_secrets_until_the_overlap_ends(
        org_a, people, key, live_row):
    old_key, old_secret = key
    row = live_row(api_key=old_key)
    assert decision(old_secret)["decision"] == "allow"
    rotated_at = timezone.now()
    successor, new_secret = rotate(org_a, people["owner"], old_key)

    for secret in (new_secret, old_secret):  # the overlap: both are the row's credential
        answer = decision(secret)
        assert (answer["decision"], answer["row"]) == ("allow", str(row.public_id))

    old_key.refresh_from_db()
    assert old_key.expires_at <= rotated_at + timedelta(seconds=HOUR + 5)
    # Time travel to just after the old secret's overlap end, as the service set it.
    with time_machine.travel(old_key.expires_at + timedelta(seconds=1), tick=False):
        assert decision(old_secret)["reasons"] == ["credential_expired"]
        answer = decision(new_secret)
        assert (answer["decision"], answer["row"]) == ("allow", str(row.public_id))


def test_a_row_follows_the_lineage_through_several_rotations(org_a, people, key, live_row):
    first, _ = key
    row = live_row(api_key=first)
    second, _ = rotate(org_a, people["owner"], first, overlap=0)
    third, third_secret = rotate(org_a, people["owner"], second, overlap=0)
    assert first.lineage == second.lineage == third.lineage == first.public_id
    answer = decision(third_secret)
    assert (answer["decision"], answer["row"]) == ("allow", str(row.public_id))


def test_a_row_bound_to_another_lineage_still_does_not_cover_a_rotated_key(
        org_a, people, production, caller_a, key, live_row):
    other, _ = make_key(org_a, people["owner"], production, caller_a, name="other")
    live_row(api_key=other)
    _, new_secret = rotate(org_a, people["owner"], key[0])
    assert decision(new_secret)["reasons"] == ["no_matching_row"]
    assert decision(key[1])["reasons"] == ["no_matching_row"]


def test_the_decision_log_names_the_key_used_not_the_lineage(org_a, people, key, live_row,
                                                           settings):
    from approvals.decisions import log as decision_log
    from approvals.models import ApprovalSettings

    ApprovalSettings.objects.update_or_create(
        org=org_a, defaults={"decision_log": ApprovalSettings.DecisionLog.FULL})
    live_row(api_key=key[0])
    successor, new_secret = rotate(org_a, people["owner"], key[0])
    assert decision(new_secret)["decision"] == "allow"
    decision_log.flush()
    from approvals.models import DecisionRecord
    record = DecisionRecord.objects.for_org(org_a).get()
    assert record.credential_public_id == successor.public_id
