"""One synthetic request per action to an OpenAI-compatible gateway, and the check of its
answer: the facts a route smoke test records (docs/smoke-tests.md).

probe() never raises for what the gateway does: an HTTP error, a timeout, a refused
connection, a body that is not JSON or lacks the expected shape all come back as a failed
ProbeResult with the reason in `error`. The request metadata it records (method, URL,
model, the synthetic body) holds no secret: the key travels only in the Authorization
header, which is never recorded. The request goes through orgs/outbound.py (pinned to
a checked public address, one deadline of `timeout` seconds, the answer capped at
MAX_RESPONSE); redirects are not followed, so a gateway cannot bounce the request to an
address the policy refused.
"""

import json
import time
from dataclasses import asdict, dataclass, field

from evidence.families import Action
from orgs import outbound

PROMPT = "This is a synthetic smoke test. Reply with the single word: pong."
TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}
MAX_ERROR = 500
MAX_RESPONSE = 32 * 1024 * 1024  # an image answer in b64_json is a few MB


@dataclass
class ProbeResult:
    action: str
    model: str
    method: str
    url: str
    body: dict
    status: int | None = None
    latency_ms: int | None = None
    shape_ok: bool = False
    shape: str = ""  # what the check found, e.g. "3 content deltas, then [DONE]"
    usage: dict = field(default_factory=dict)
    error: str = ""

    @property
    def passed(self) -> bool:
        return self.shape_ok and not self.error and self.status is not None \
            and 200 <= self.status < 300

    def as_content(self) -> dict:
        data = asdict(self)
        body = data.pop("body")
        return {"passed": self.passed, "action": self.action, "model": self.model,
                "request": {"method": self.method, "url": self.url, "body": body},
                **{k: data[k] for k in ("status", "latency_ms", "shape_ok", "shape", "usage",
                                        "error")}}


class ShapeError(Exception):
    """The answer arrived but is not what an OpenAI-compatible gateway sends."""


def _chat_body(model: str) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": PROMPT}],
            "max_tokens": 16}


# action -> (path, body builder). Tool calls force the one function, so a model that can
# call tools must answer with it.
REQUESTS = {
    Action.CHAT: ("/chat/completions", _chat_body),
    Action.CHAT_STREAM: ("/chat/completions", lambda m: {
        **_chat_body(m), "stream": True, "stream_options": {"include_usage": True}}),
    Action.RESPONSES: ("/responses", lambda m: {
        "model": m, "input": PROMPT, "max_output_tokens": 16}),
    Action.EMBEDDINGS: ("/embeddings", lambda m: {"model": m, "input": "synthetic smoke test"}),
    Action.IMAGE: ("/images/generations", lambda m: {
        "model": m, "prompt": "A plain blue square on a white background.", "n": 1}),
    Action.TOOL_CALLS: ("/chat/completions", lambda m: {
        "model": m, "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
        "tools": [TOOL], "tool_choice": {"type": "function",
                                         "function": {"name": "get_weather"}},
        "max_tokens": 64}),
}
SUPPORTED = frozenset(REQUESTS)


def _usage(body: dict) -> dict:
    usage = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(usage, dict):
        return {}
    names = ("prompt_tokens", "completion_tokens", "input_tokens", "output_tokens",
             "total_tokens")
    return {n: usage[n] for n in names if isinstance(usage.get(n), int)}


def _first(body, key):
    items = body.get(key) if isinstance(body, dict) else None
    if not isinstance(items, list) or not items or not isinstance(items[0], dict):
        raise ShapeError(f"The response has no {key}[0].")
    return items[0]


def _check_chat(body: dict) -> str:
    message = _first(body, "choices").get("message")
    if not isinstance(message, dict) or not isinstance(message.get("content"), str) \
            or not message["content"].strip():
        raise ShapeError("The response has no choices[0].message.content text.")
    return f"message of {len(message['content'])} characters"


def _check_tools(body: dict) -> str:
    message = _first(body, "choices").get("message") or {}
    calls = message.get("tool_calls") if isinstance(message, dict) else None
    if not isinstance(calls, list) or not calls:
        raise ShapeError("The model answered without choices[0].message.tool_calls.")
    function = (calls[0] or {}).get("function") or {}
    if function.get("name") != TOOL["function"]["name"]:
        raise ShapeError(f"The tool call names {function.get('name')!r}, not get_weather.")
    try:
        json.loads(function.get("arguments") or "")
    except (TypeError, ValueError):
        raise ShapeError("The tool call's arguments are not JSON.") from None
    return f"tool call get_weather({function['arguments'][:60]})"


def _check_responses(body: dict) -> str:
    output = body.get("output") if isinstance(body, dict) else None
    texts = [part.get("text") for item in (output if isinstance(output, list) else [])
             if isinstance(item, dict) and item.get("type") == "message"
             for part in item.get("content") or []
             if isinstance(part, dict) and part.get("type") == "output_text"]
    if not any(isinstance(t, str) and t.strip() for t in texts):
        raise ShapeError("The response has no output message with output_text.")
    return f"{len(texts)} output_text part{'s' if len(texts) != 1 else ''}"


def _check_embeddings(body: dict) -> str:
    vector = _first(body, "data").get("embedding")
    if not isinstance(vector, list) or not vector or not all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in vector):
        raise ShapeError("The response has no data[0].embedding vector of numbers.")
    return f"vector of {len(vector)} dimensions"


def _check_image(body: dict) -> str:
    image = _first(body, "data")
    if isinstance(image.get("b64_json"), str) and image["b64_json"]:
        return f"b64_json image of {len(image['b64_json'])} characters"
    if isinstance(image.get("url"), str) and image["url"].startswith(("https://", "http://")):
        return "image URL"
    raise ShapeError("The response has neither data[0].b64_json nor data[0].url.")


CHECKS = {Action.CHAT: _check_chat, Action.RESPONSES: _check_responses,
          Action.EMBEDDINGS: _check_embeddings, Action.IMAGE: _check_image,
          Action.TOOL_CALLS: _check_tools}


def _read_stream(text: str, result: ProbeResult) -> str:
    """Server-sent events until data: [DONE]: count the content deltas, keep the usage.
    The whole stream arrived within the probe's deadline (orgs/outbound.py)."""
    deltas, done = 0, False
    for raw in text.splitlines():
        line = raw.strip()
        if not line.startswith("data:"):
            continue  # blank separators, comments (": ping"), event: lines
        data = line[5:].strip()
        if data == "[DONE]":
            done = True
            break
        try:
            chunk = json.loads(data)
        except ValueError:
            raise ShapeError("A server-sent event is not JSON.") from None
        result.usage = _usage(chunk) or result.usage
        for choice in chunk.get("choices") or []:
            content = ((choice or {}).get("delta") or {}).get("content")
            if isinstance(content, str) and content:
                deltas += 1
    if not done:
        raise ShapeError("The stream ended without data: [DONE].")
    if not deltas:
        raise ShapeError("The stream sent no content deltas.")
    return f"{deltas} content delta{'s' if deltas != 1 else ''}, then [DONE]"


def _error_text(response) -> str:
    """The OpenAI error body's message (and type or code), else the start of the body:
    what the org's own gateway said is the point of a failed smoke test's record."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict) and error.get("message"):
        kind = error.get("type") or error.get("code")
        text = f"{error['message']}" + (f" ({kind})" if kind else "")
    else:
        text = (response.text or "").strip()[:200] or response.reason or "no body"
    return f"HTTP {response.status}: {text}"[:MAX_ERROR]


def _transport_error(exc: outbound.OutboundError, timeout: int) -> str:
    if exc.reason == "timeout":
        return f"Timed out after {timeout} s."
    if exc.reason == "connect":
        reason = "connection refused" if "refused" in str(exc) else "no connection"
        return f"Could not connect to the gateway ({reason})."
    return str(exc)[:MAX_ERROR]  # refused by the policy, TLS, too large: already safe


def _check(response, result: ProbeResult, action: str):
    result.status = response.status
    if not 200 <= response.status < 300:
        result.error = _error_text(response)
    elif action == Action.CHAT_STREAM:
        result.shape = _read_stream(response.text, result)
        result.shape_ok = True
    else:
        try:
            body = response.json()
        except ValueError:
            raise ShapeError("The response is not JSON.") from None
        result.usage = _usage(body)
        result.shape = CHECKS[action](body)
        result.shape_ok = True


def probe(*, base_url: str, key: str, timeout: int, action: str, model: str) -> ProbeResult:
    """Send the synthetic request of `action` for `model`; return what happened."""
    path, build = REQUESTS[action]
    result = ProbeResult(action=action, model=model, method="POST", url=base_url + path,
                         body=build(model))
    started = time.monotonic()
    try:
        response = outbound.fetch(
            "POST", result.url, body=json.dumps(result.body).encode(), timeout=timeout,
            max_bytes=MAX_RESPONSE,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json",
                     "Accept": "text/event-stream" if action == Action.CHAT_STREAM
                     else "application/json"})
        _check(response, result, action)
    except ShapeError as exc:
        result.error = str(exc)
    except outbound.OutboundError as exc:
        result.error = _transport_error(exc, timeout)
    result.latency_ms = int((time.monotonic() - started) * 1000)
    return result
