"""The OpenAPI schema tells the truth: error answers documented on every operation with the
bodies the API really sends, nullable ids marked nullable, the inbox a bare list, every
query parameter a view reads named. The live, fuzzed check of all of it is
tests/test_openapi_contract.py; these pin each rule on its own, fast."""

import jsonschema
import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from approvals.models import PolicyRow
from orgs.roles import Role
from projects.models import Environment
from tests.approvals.conftest import (  # noqa: F401 (fixtures)
    chat_model,
    make_row,
    people,
    production,
    snapshot,
)

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema):
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method in item:
                yield f"{method.upper()} {path}", item[method]


def body_validator(schema, code, operation):
    """A validator for the JSON body the operation documents for `code`."""
    body = operation["responses"][code]["content"]["application/json"]["schema"]
    return jsonschema.Draft202012Validator({**body, "components": schema["components"]})


def client_for(membership):
    client = APIClient()
    client.force_authenticate(membership.user)
    return client


def test_every_secured_operation_documents_401_403_and_404_when_it_names_objects(schema):
    missing = []
    for name, op in operations(schema):
        codes = set(op["responses"])
        secured = op.get("security") and {} not in op["security"]
        wanted = {"401", "403"} if secured else set()
        if any(p["in"] == "path" for p in op.get("parameters", [])):
            wanted.add("404")
        if name.split()[0] in ("POST", "PUT", "PATCH"):
            wanted |= {"400", "413"}
        if wanted - codes:
            missing.append((name, sorted(wanted - codes)))
    assert not missing, missing


def test_workflow_writes_document_409_and_reads_do_not(schema):
    ops = dict(operations(schema))
    assert "409" in ops["POST /api/v1/o/{org_slug}/rows/{public_id}/submit/"]["responses"]
    assert "409" in ops["POST /api/v1/o/{org_slug}/findings/{public_id}/resolve/"]["responses"]
    assert "409" not in ops["GET /api/v1/o/{org_slug}/rows/{public_id}/"]["responses"]
    assert "409" not in ops["POST /api/v1/o/{org_slug}/projects/"]["responses"]


@pytest.mark.django_db
def test_documented_error_bodies_are_the_ones_the_api_sends(schema, org_a, owner, personas,
                                                            outsider, make_row):  # noqa: F811
    ops = dict(operations(schema))
    create = ops["POST /api/v1/o/{org_slug}/projects/"]
    bad = client_for(owner).post("/api/v1/o/acme/projects/", {"name": "", "slug": "a b"},
                                 format="json")
    malformed = client_for(owner).post("/api/v1/o/acme/projects/", "{", content_type=
                                       "application/json")
    anonymous = APIClient().post("/api/v1/o/acme/projects/", {}, format="json")
    refused = client_for(personas[Role.AUDITOR]).post("/api/v1/o/acme/projects/", {},
                                                      format="json")
    foreign = client_for(outsider).post("/api/v1/o/acme/projects/", {}, format="json")
    row = make_row(PolicyRow.Status.ACTIVE)
    conflict = client_for(owner).post(f"/api/v1/o/acme/rows/{row.public_id}/submit/", {},
                                      format="json")
    submit = ops["POST /api/v1/o/{org_slug}/rows/{public_id}/submit/"]
    answers = [(bad, "400", create), (malformed, "400", create), (anonymous, "401", create),
               (refused, "403", create), (foreign, "404", create), (conflict, "409", submit)]
    for response, code, op in answers:
        assert str(response.status_code) == code, (code, response.json())
        body_validator(schema, code, op).validate(response.json())
    assert "slug" in bad.json() and "JSON parse error" in malformed.json()["detail"]


def test_error_body_schemas_can_fail(schema):
    # The safety net catches a wrong shape: a bare string is neither a 400 nor a 404 body.
    ops = dict(operations(schema))
    create = ops["POST /api/v1/o/{org_slug}/projects/"]
    with pytest.raises(jsonschema.ValidationError, match="is not valid under any"):
        body_validator(schema, "400", create).validate({"slug": "not a list"})
    with pytest.raises(jsonschema.ValidationError, match="'detail' is a required property"):
        body_validator(schema, "404", create).validate({"error": "nope"})


def test_ids_of_optional_relations_are_nullable(schema):
    props = schema["components"]["schemas"]
    row = props["Row"]["properties"]
    for name in ("api_key", "fallback_row", "workload_identity", "app_owner", "requested_by"):
        assert row[name].get("nullable") is True, name
    for name in ("project", "environment", "caller"):
        assert not row[name].get("nullable"), name
    finding = props["ReconciliationFinding"]["properties"]
    for name in ("owner", "project", "row", "project_name"):
        assert finding[name].get("nullable") is True, name
    rule = props["DenyRule"]["properties"]
    for name in ("project", "environment"):
        assert rule[name].get("nullable") is True, name


@pytest.mark.django_db
def test_inbox_is_documented_and_answered_as_a_bare_list(schema, owner):
    ops = dict(operations(schema))
    body = ops["GET /api/v1/o/{org_slug}/inbox/"]["responses"]["200"]["content"]
    assert body["application/json"]["schema"]["type"] == "array"
    assert client_for(owner).get("/api/v1/o/acme/inbox/").json() == []


def test_read_only_choices_of_blank_model_fields_allow_the_empty_string(schema):
    props = schema["components"]["schemas"]
    for component, name in (("VerifiedDomain", "method"), ("DenyRule", "action"),
                            ("DenyRule", "data_class")):
        refs = {s["$ref"] for s in props[component]["properties"][name]["oneOf"]}
        assert "#/components/schemas/BlankEnum" in refs, (component, name)


@pytest.mark.django_db
def test_project_roles_are_documented_and_answered_as_a_bare_list(schema, owner, project_a):
    ops = dict(operations(schema))
    body = ops["GET /api/v1/o/{org_slug}/projects/{public_id}/roles/"]["responses"]["200"]
    assert body["content"]["application/json"]["schema"]["type"] == "array"
    response = client_for(owner).get(f"/api/v1/o/acme/projects/{project_a.public_id}/roles/")
    assert isinstance(response.json(), list)


@pytest.mark.django_db
def test_options_on_a_webhook_endpoint_describes_it(owner, loopback_allowed):
    # DRF's metadata asked the view for a queryset it does not have: a 500.
    from orgs.webhooks.services import endpoint_create
    endpoint, _ = endpoint_create(org=owner.org, actor=owner, url="http://127.0.0.1:9/h")
    response = client_for(owner).options(f"/api/v1/o/acme/webhooks/{endpoint.public_id}/")
    assert response.status_code == 200
    assert "PUT" in response.json()["actions"]


def test_query_parameters_the_views_read_are_named(schema):
    ops = dict(operations(schema))

    def query(name):
        return {p["name"] for p in ops[name].get("parameters", []) if p["in"] == "query"}

    assert {"snapshot", "q", "platform", "family", "availability", "price_min", "price_max",
            "context_min", "context_max", "sort", "page", "page_size"} \
        <= query("GET /api/v1/o/{org_slug}/catalog/entries/")
    assert {"old", "new"} <= query("GET /api/v1/o/{org_slug}/catalog/diff/")
    assert {"project", "model", "source"} <= query("GET /api/v1/o/{org_slug}/usage/records/")


@pytest.mark.django_db
def test_an_environment_posted_without_a_tier_is_a_development_one(owner, project_a):
    # The schema says tier is optional (the model has a default); this answered 500.
    response = client_for(owner).post(
        f"/api/v1/o/acme/projects/{project_a.public_id}/environments/", {"name": "sandbox"},
        format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["tier"] == Environment.Tier.DEVELOPMENT
    assert Environment.objects.for_org(owner.org).filter(project=project_a,
                                                         name="sandbox").exists()
