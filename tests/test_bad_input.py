"""Issue 12.7: nothing a client sends gives a 500. Deeply nested JSON on every JSON
endpoint, OPTIONS on every API endpoint, and JSON answers (404, 413, 500, the schema with
a team key) for everything under /api/."""

import re
import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework import parsers
from rest_framework.test import APIClient

from approvals.decisions import log as decision_log
from evidence.models import UsageImport, UsageRecord
from orgs import jsonbody
from orgs.audit import AuditEvent
from projects.models import Project
from projects.secrets import new_secret

pytestmark = pytest.mark.django_db
DEEP = "[" * 100_000 + "]" * 100_000  # RecursionError in Python's json module
JUST_TOO_DEEP = {"lines": [{"model": "m", "extra": "[" * 40 + "]" * 40}]}


def nested(depth: int):
    value = "x"
    for _ in range(depth):
        value = [value]
    return value


@pytest.fixture
def owner_api(owner):
    http = APIClient()
    http.force_authenticate(owner.user)
    return http


@pytest.mark.parametrize("path", ["/api/v1/decisions", "/api/v1/decisions/batch"])
def test_deeply_nested_json_to_the_decision_endpoints_is_a_400(path, owner):
    # The team key is real in shape; the hot path parses before DRF does.
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Bearer {new_secret('gvk_live_')}")
    response = http.post(path, DEEP, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert response.json() == {"detail": f"JSON parse error - {jsonbody.TOO_DEEP}"}
    assert not decision_log.buffer._entries


@pytest.mark.parametrize("path", ["/api/v1/o/acme/projects/", "/api/v1/o/acme/usage/lines/",
                                  "/api/v1/o/acme/catalog/snapshots/", "/api/v1/tokens/"])
def test_deeply_nested_json_to_org_endpoints_is_a_400_and_changes_nothing(owner_api, org_a,
                                                                        path):
    events = AuditEvent.objects.for_org(org_a).count()
    response = owner_api.post(path, DEEP, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert response.json()["detail"] == f"JSON parse error - {jsonbody.TOO_DEEP}"
    assert AuditEvent.objects.for_org(org_a).count() == events
    assert not Project.objects.for_org(org_a).exists()
    assert not UsageImport.objects.for_org(org_a).exists()


def test_nesting_below_the_interpreters_limit_but_past_ours_is_refused_too(owner_api, org_a):
    # 900 levels parse, but str() of the value inside a serializer recursed past the limit.
    body = {"lines": [{"occurred_at": "2026-11-01T10:00:00Z", "model": nested(900)}]}
    response = owner_api.post("/api/v1/o/acme/usage/lines/", body, format="json")
    assert response.status_code == 400
    assert jsonbody.TOO_DEEP in response.json()["detail"]
    assert not UsageRecord.objects.for_org(org_a).exists()


def test_ordinary_nesting_still_parses():
    assert jsonbody.loads(b'{"requests": [{"model": "m"}]}') == {"requests": [{"model": "m"}]}
    assert jsonbody.loads(str([nested(jsonbody.MAX_DEPTH - 1)]).replace("'", '"'))
    with pytest.raises(jsonbody.BodyError, match="nested deeper than 32 levels"):
        jsonbody.loads(str([nested(jsonbody.MAX_DEPTH)]).replace("'", '"'))
    with pytest.raises(jsonbody.BodyError, match="Expecting property name"):
        jsonbody.loads(b"{not json")
    with pytest.raises(jsonbody.BodyError, match="NaN"):
        jsonbody.loads(b"[NaN]", strict=True)


def _api_views(resolver=None, prefix=""):
    """(route, view class) of every DRF view routed under /api/."""
    for entry in (resolver or get_resolver()).url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _api_views(entry, route)
        elif isinstance(entry, URLPattern) and route.startswith("api/"):
            cls = getattr(entry.callback, "cls", None)
            if cls is not None:
                yield route, cls


def _stock_json_parsers(views):
    return [route for route, cls in views
            if any(type(p) is parsers.JSONParser for p in cls().get_parsers())]


def test_every_api_view_parses_json_through_the_guard():
    views = list(_api_views())
    assert len(views) > 40  # the walk found the API
    assert _stock_json_parsers(views) == []


def test_the_parser_guard_test_catches_a_view_with_the_stock_parser(monkeypatch):
    # The safety net above, proven on a planted defect: one view back on DRF's parser.
    from evidence.usage.api import UsageBatch

    monkeypatch.setattr(UsageBatch, "parser_classes", [parsers.JSONParser])
    assert _stock_json_parsers(list(_api_views())) == ["api/v1/o/<slug:org_slug>/usage/lines/"]


def _concrete(route: str) -> str:
    """A request path for a route: our org, a random id for every other parameter."""
    route = route.replace("<slug:org_slug>", "acme")
    return "/" + re.sub(r"<(?:(\w+):)?\w+>", lambda m: str(uuid.uuid4()) if m[1] in (
        "uuid", None, "str") else ("1" if m[1] == "int" else "x"), route)


def test_options_on_every_api_endpoint_answers_without_a_500(owner, project_a):
    # OPTIONS builds a form of the POST serializer: on the usage batch endpoints, which
    # had none declared, DRF's metadata asserted and the answer was a 500.
    http = APIClient(raise_request_exception=False)
    http.force_authenticate(owner.user)
    answers = {route: http.options(_concrete(route)) for route, _ in _api_views()}
    assert {route: r.status_code for route, r in answers.items() if r.status_code >= 500} == {}
    assert {route: r["Content-Type"] for route, r in answers.items()
            if "json" not in r["Content-Type"]} == {}
    lines = answers["api/v1/o/<slug:org_slug>/usage/lines/"]
    assert lines.status_code == 200 and "lines" in lines.json()["actions"]["POST"]


def test_an_unknown_api_path_is_a_json_404_and_a_page_stays_html(client):
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
    page = client.get("/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")


def test_an_api_crash_is_a_json_500_without_details(owner, monkeypatch):
    # A planted defect in one endpoint: the client gets JSON, never the HTML error page.
    from evidence.usage.api import RecordList

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(RecordList, "get", broken)
    http = APIClient(raise_request_exception=False)
    http.force_authenticate(owner.user)
    response = http.get("/api/v1/o/acme/usage/records/")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert "secret internals" not in response.content.decode()
    assert "administrators have the details" in response.json()["detail"]


def test_a_body_over_the_upload_limit_is_a_json_413_on_the_hot_path(settings, owner):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Bearer {new_secret('gvk_live_')}")
    body = {"model": "m" * 2000, "action": "chat", "data_class": "internal",
            "environment": "production"}
    response = http.post("/api/v1/decisions", body, format="json")
    assert response.status_code == 413
    assert response.json() == {"detail": "The request body is too large."}
    assert not decision_log.buffer._entries


def test_a_json_body_over_the_parsers_limit_is_a_413_and_writes_nothing(owner_api, org_a,
                                                                       monkeypatch):
    monkeypatch.setattr(jsonbody, "MAX_BODY_BYTES", 100)
    response = owner_api.post("/api/v1/o/acme/projects/",
                              {"name": "Big", "slug": "big", "description": "x" * 200},
                              format="json")
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]
    assert not Project.objects.for_org(org_a).exists()


def test_a_form_over_the_upload_limit_is_a_json_413(settings, owner_api, org_a):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    response = owner_api.post("/api/v1/o/acme/usage/imports/",
                              {"kind": "usage", "source": "api", "note": "x" * 500},
                              format="multipart")
    assert response.status_code == 413
    assert response.json() == {"detail": "The request body is too large."}
    assert not UsageImport.objects.for_org(org_a).exists()


@pytest.mark.parametrize("path", ["/api/v1/schema/", "/api/v1/schema/?format=json",
                                  "/api/v1/docs/", "/api/v1/redoc/"])
def test_the_schema_and_docs_answer_a_gateway_that_sends_its_team_key(path):
    http = APIClient(raise_request_exception=False)
    http.credentials(HTTP_AUTHORIZATION=f"Bearer {new_secret('gvk_live_')}")
    response = http.get(path)
    assert response.status_code == 200, response.content[:300]
    assert b"decisions" in response.content or b"swagger" in response.content \
        or b"redoc" in response.content


def test_options_on_the_doc_pages_is_a_json_405():
    response = APIClient().options("/api/v1/docs/")
    assert response.status_code == 405
    assert response.json() == {"detail": "Method Not Allowed."}
    assert response["Allow"] == "GET, HEAD"
