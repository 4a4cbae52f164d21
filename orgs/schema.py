"""The OpenAPI description: personal token auth (loaded by OrgsConfig.ready) and the schema
class that documents every operation's error answers in one place.

The error bodies are DRF's own: `{"detail": "..."}` for 401, 403, 404, 409 and 413, and
field-level messages for 400 (`{"slug": ["..."]}`, nested objects and lists for nested
input, `{"detail": "JSON parse error - ..."}` for a body that is not JSON). The contract
test (tests/test_openapi_contract.py) runs schemathesis against a live server and fails on
any answer the schema does not describe, so what is written here must stay true.
"""

from django.core.exceptions import FieldDoesNotExist
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers


class PersonalTokenScheme(OpenApiAuthenticationExtension):
    target_class = "orgs.authentication.PersonalTokenAuthentication"
    name = "personalToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token (gvp_...) from Account > API tokens.",
        }


ERROR = {
    "type": "object",
    "description": "What went wrong, in one sentence.",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
# One field's messages: a list of strings, or for nested input an object (or a list of
# objects, one per item) of the same shape, recursively.
FIELD_ERRORS = {
    "anyOf": [
        {"type": "array",
         "items": {"anyOf": [{"type": "string"},
                             {"$ref": "#/components/schemas/FieldErrors"}]}},
        {"type": "object",
         "additionalProperties": {"$ref": "#/components/schemas/FieldErrors"}},
    ],
}
VALIDATION_ERROR = {
    "description": "Field-level messages: each key is a field (or non_field_errors) and "
                   "holds its messages. A body that is not valid JSON gives "
                   "{\"detail\": \"JSON parse error - ...\"}. Nothing was changed.",
    "anyOf": [
        {"type": "object",
         "properties": {"detail": {"type": "string"}},
         "additionalProperties": {"$ref": "#/components/schemas/FieldErrors"}},
        {"type": "array", "items": {"type": "string"}},
    ],
}
COMPONENTS = {"Error": ERROR, "FieldErrors": FIELD_ERRORS, "ValidationError": VALIDATION_ERROR}

DESCRIPTIONS = {
    "400": "Bad input: field-level messages; nothing was changed.",
    "401": "No credentials, or invalid, expired or revoked ones.",
    "403": "You are a member, but your role (or the service's rule) does not allow this.",
    "404": "The org or the object does not exist or is not yours (the two look the same).",
    "409": "The object's current state does not allow this; nothing was changed.",
    "413": "The request body is larger than the server accepts.",
}
WRITES = {"POST", "PUT", "PATCH"}


def _model_field_blank(field) -> bool:
    model = getattr(getattr(field.parent, "Meta", None), "model", None)
    if model is None or "." in (field.source or ""):
        return False
    try:
        return model._meta.get_field(field.source).blank
    except FieldDoesNotExist:  # a property or an annotation
        return False


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema class, plus the error answers each operation can give.

    Which errors: 400 on every write and on reads with query parameters; 401 and 403
    wherever credentials are needed; 404 where the path names an org or an object, or the
    list is paginated (an out-of-range page); 409 on writes of views that say they can
    conflict (`conflict_on_write = True`: workflow moves, finding actions); 413 where
    there is a body. A status a view documents itself is left as it is.
    """

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        for code in self._error_codes(operation):
            ref = self._error_component("ValidationError" if code == "400" else "Error")
            response = operation["responses"].setdefault(code, {"description": DESCRIPTIONS[code]})
            # A view's own description (usage lines' 400) keeps its words, gains the body.
            response.setdefault("content", {"application/json": {"schema": ref}})
        return operation

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        if isinstance(field, serializers.ChoiceField) and field.read_only \
                and _model_field_blank(field):
            # A read-only choice of a blank=True model field answers "" too: the enum
            # must say so (drf-spectacular adds the blank choice only for writable ones).
            field.allow_blank = True
        return super()._map_serializer_field(field, direction, bypass_extensions)

    def _error_codes(self, operation) -> list[str]:
        params = operation.get("parameters", [])
        query = any(p["in"] == "query" for p in params)
        has_body = self.method in WRITES
        codes = []
        if self.method != "GET" or query:  # a DELETE's service may refuse with a reason
            codes.append("400")
        security = operation.get("security", [])
        if security and {} not in security:
            codes += ["401", "403"]
        if any(p["in"] == "path" for p in params) or any(p["name"] == "page" for p in params):
            codes.append("404")
        if has_body and getattr(self.view, "conflict_on_write", False):
            codes.append("409")
        if has_body:
            codes.append("413")
        return codes

    def _error_component(self, name):
        for component_name, schema in COMPONENTS.items():
            self.registry.register_on_missing(ResolvedComponent(
                name=component_name, type=ResolvedComponent.SCHEMA, schema=schema,
                object=component_name))
        return {"$ref": f"#/components/schemas/{name}"}


def form_query_parameters(form_class) -> list:
    """OpenApiParameters for the fields of a Django filter form that an API view reads from
    its query string (the catalog search, the diff, the usage lines): one description for
    the page and the API, so the schema names every parameter the view accepts."""
    from django import forms
    from drf_spectacular.types import OpenApiTypes
    from drf_spectacular.utils import OpenApiParameter

    params = []
    for name, field in form_class.base_fields.items():
        enum = None
        if isinstance(field, forms.ModelChoiceField):
            kind = OpenApiTypes.UUID
        elif isinstance(field, forms.IntegerField):
            kind = OpenApiTypes.INT
        elif isinstance(field, forms.DecimalField):
            kind = OpenApiTypes.NUMBER
        elif isinstance(field, forms.ChoiceField):
            kind, enum = OpenApiTypes.STR, [str(value) for value, _ in field.choices]
        else:
            kind = OpenApiTypes.STR
        params.append(OpenApiParameter(
            name, kind, OpenApiParameter.QUERY, required=field.required, enum=enum,
            description=str(field.help_text or field.label or "")))
    return params
