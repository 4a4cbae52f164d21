"""Issue 12.7: whatever a gateway sends to the decision endpoints, the answer is a
field-level 400, never a 500, and nothing is decided or logged."""

import pytest

from approvals.decisions import log as decision_log
from projects.secrets import new_secret
from tests.approvals.decisions.test_decisions_api import BODY, api

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("field", ["action", "data_class"])
@pytest.mark.parametrize("value", [["chat"], {"chat": 1}, [], {}])
def test_a_list_or_object_as_action_or_data_class_is_a_field_level_400(secret, live_row,
                                                                        field, value):
    # The hot path looked the value up in a frozenset: a list is unhashable (TypeError, a
    # 500) before the DRF view could answer. The key is well-formed and real, as a
    # gateway's would be.
    live_row()
    response = api(secret).post("/api/v1/decisions", {**BODY, field: value}, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()) == [field]
    assert not decision_log.buffer._entries  # nothing was decided


@pytest.mark.parametrize("field", ["action", "data_class"])
def test_a_batch_item_with_a_list_is_a_field_level_400(secret, live_row, field):
    live_row()
    body = {"requests": [BODY, {**BODY, field: ["chat", "internal"]}]}
    response = api(secret).post("/api/v1/decisions/batch", body, format="json")
    assert response.status_code == 400, response.content
    [(item, errors)] = response.json()["requests"].items()  # DRF numbers items from 0
    assert item == "1" and list(errors) == [field]
    assert "is not a valid choice" in errors[field][0]
    assert not decision_log.buffer._entries


@pytest.mark.parametrize("path", ["/api/v1/decisions", "/api/v1/decisions/batch"])
def test_a_made_up_well_formed_key_with_a_list_is_a_400_too(live_row, path):
    # A checksum-valid key nobody issued passes the hot path's shape check as well.
    live_row()
    body = {**BODY, "data_class": {"internal": True}}
    body = {"requests": [body]} if path.endswith("batch") else body
    response = api(new_secret("gvk_live_")).post(path, body, format="json")
    assert response.status_code == 400, response.content
    assert "data_class" in str(response.json())
    assert not decision_log.buffer._entries
