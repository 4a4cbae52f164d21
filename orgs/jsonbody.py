"""The one place where request bodies become JSON: `loads` for plain views (the decision
hot path) and `JSONParser` for every DRF view (the default parser, and the views that
name their parsers).

Python's json module nests by recursion: a body of 100,000 "[" raises RecursionError,
which no view catches (a 500), and a value nested just below the interpreter's limit
still breaks whatever walks it later (a serializer's str(), the renderer). So a body
nested deeper than MAX_DEPTH is refused here, as a bad body: a 400 naming the limit."""

import json

from django.conf import settings
from rest_framework import parsers, status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.utils.json import strict_constant

MAX_DEPTH = 32  # the deepest of our own request shapes is 4; gateways send flat objects
TOO_DEEP = f"JSON nested deeper than {MAX_DEPTH} levels."


# DRF reads a JSON body from the stream, past Django's DATA_UPLOAD_MAX_MEMORY_SIZE
# check on request.body; this bounds it instead (a push of 10,000 usage lines is ~3 MB).
MAX_BODY_BYTES = 32 * 1024 * 1024


class BodyTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = f"The request body is larger than {MAX_BODY_BYTES // 2**20} MB."
    default_code = "too_large"


class BodyError(ValueError):
    """The body is not JSON we accept; str() is the message for the client."""


def _deeper_than(value, limit: int) -> bool:
    # Level by level, keeping only containers: a batch of flat objects is two short
    # passes, and the walk never recurses itself.
    level = [value] if type(value) is dict or type(value) is list else []
    for _ in range(limit):
        level = [item for container in level
                 for item in (container.values() if type(container) is dict else container)
                 if type(item) is dict or type(item) is list]
        if not level:
            return False
    return True


def _brackets(text: str | bytes) -> int:
    if isinstance(text, bytes):
        return text.count(b"[") + text.count(b"{")
    return text.count("[") + text.count("{")


def loads(text: str | bytes, *, strict: bool = False, walk: bool = True):
    """The parsed body, or BodyError: not JSON, nested too deep, or (strict) NaN and
    Infinity, which JSON does not have. Safe for any view to call on request.body.
    walk=False skips the depth walk (RecursionError is still caught): only for a caller
    that accepts nothing but flat values and hands anything else to the DRF parser."""
    try:
        data = json.loads(text, parse_constant=strict_constant) if strict else json.loads(text)
    except RecursionError:
        raise BodyError(TOO_DEEP) from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise BodyError(str(exc)) from None
    # Nesting needs at least one bracket a level: a body with few brackets (any single
    # object of ours) skips the walk.
    if walk and _brackets(text) > MAX_DEPTH and _deeper_than(data, MAX_DEPTH):
        raise BodyError(TOO_DEEP)
    return data


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser through `loads`: a body nested too deep is a 400 like any other
    JSON parse error ({"detail": "JSON parse error - ..."}), never a RecursionError; a
    body over MAX_BODY_BYTES is a 413."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        raw = stream.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            raise BodyTooLarge()
        try:
            return loads(raw.decode(encoding), strict=self.strict)
        except (BodyError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
