"""An OpenAI-compatible gateway on 127.0.0.1 for tests: http.server in a thread.

Fixture `gateway_stub` (registered in tests/conftest.py): .base_url ("http://127.0.0.1:PORT/v1"),
.key (the Bearer key it accepts; anything else gets 401), .requests (every request seen:
method, path, JSON body, Authorization header) and .release (an Event that frees the slow
route; set at teardown).

Routes under /v1: POST /chat/completions (plain, stream=true as server-sent events, and
with tools: a tool call), /responses, /embeddings, /images/generations. The model name
picks a behaviour:
  error-500  -> 500 with an OpenAI error body (server_error)
  error-400  -> 400 with an OpenAI error body (invalid_request_error)
  slow       -> waits until .release is set (or 30 s): longer than any test timeout
  delay-*    -> answers normally after DELAY seconds (a run a browser can watch progress)
  bad-shape  -> 200 with a JSON body lacking the expected fields
  not-json   -> 200 with an HTML body
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

KEY = "sk-stub-test-key-0123456789"
SLOW_LIMIT = 30  # seconds the slow route waits at most for .release
DELAY = 1.5  # seconds a delay-* model takes to answer


def _chat(model):
    return {"id": "chatcmpl-stub", "object": "chat.completion", "model": model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "pong"}}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 1, "total_tokens": 13}}


def _tool_call(model):
    return {"id": "chatcmpl-stub", "object": "chat.completion", "model": model,
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": None, "tool_calls": [{
                    "id": "call_1", "type": "function", "function": {
                        "name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]}}],
            "usage": {"prompt_tokens": 40, "completion_tokens": 8, "total_tokens": 48}}


def _responses(model):
    return {"id": "resp_stub", "object": "response", "model": model, "status": "completed",
            "output": [{"type": "message", "role": "assistant", "content": [
                {"type": "output_text", "text": "pong", "annotations": []}]}],
            "usage": {"input_tokens": 12, "output_tokens": 1, "total_tokens": 13}}


def _embeddings(model):
    return {"object": "list", "model": model, "data": [
        {"object": "embedding", "index": 0, "embedding": [0.01, -0.02, 0.03, 0.04]}],
        "usage": {"prompt_tokens": 3, "total_tokens": 3}}


def _image(model):
    return {"created": 1700000000, "data": [{"b64_json": "iVBORw0KGgoAAAANSUhEUgAAAAE="}]}


ERRORS = {
    "error-500": (500, {"error": {"message": "The server had an error while processing "
                                             "your request.", "type": "server_error",
                                  "param": None, "code": None}}),
    "error-400": (400, {"error": {"message": "The model `error-400` does not exist.",
                                  "type": "invalid_request_error", "param": "model",
                                  "code": "model_not_found"}}),
}


class _Handler(BaseHTTPRequestHandler):
    server_version = "GatewayStub/1.0"

    def log_message(self, *args):  # keep test output quiet
        pass

    def _send(self, status, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, model):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        chunks = [{"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
                  {"choices": [{"index": 0, "delta": {"content": "po"}}]},
                  {"choices": [{"index": 0, "delta": {"content": "ng"}}]},
                  {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
                  {"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 2,
                                            "total_tokens": 14}}]
        self.wfile.write(b": keep-alive\n\n")
        for chunk in chunks:
            chunk.update({"id": "chatcmpl-stub", "object": "chat.completion.chunk",
                          "model": model})
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True

    def do_GET(self):
        self._send(404, {"error": {"message": "Not found", "type": "invalid_request_error"}})

    def do_POST(self):
        stub = self.server.stub
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            body = {}
        stub.requests.append({"method": "POST", "path": self.path, "body": body,
                              "authorization": self.headers.get("Authorization", "")})
        if self.headers.get("Authorization") != f"Bearer {stub.key}":
            return self._send(401, {"error": {"message": "Incorrect API key provided.",
                                              "type": "invalid_request_error",
                                              "code": "invalid_api_key"}})
        model = body.get("model", "")
        if model in ERRORS:
            return self._send(*ERRORS[model])
        if model == "slow":
            stub.release.wait(SLOW_LIMIT)
        elif model.startswith("delay-"):
            stub.release.wait(DELAY)
        if model == "bad-shape":
            return self._send(200, {"id": "x", "object": "unknown"})
        if model == "not-json":
            return self._send(200, b"<html>gateway login</html>", "text/html")
        routes = {"/v1/responses": _responses, "/v1/embeddings": _embeddings,
                  "/v1/images/generations": _image}
        if self.path == "/v1/chat/completions":
            if body.get("stream"):
                return self._stream(model)
            return self._send(200, (_tool_call if body.get("tools") else _chat)(model))
        if self.path in routes:
            return self._send(200, routes[self.path](model))
        return self._send(404, {"error": {"message": f"Unknown path {self.path}",
                                          "type": "invalid_request_error"}})


class GatewayStub:
    def __init__(self):
        self.key = KEY
        self.requests: list[dict] = []
        self.release = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.stub = self
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                       name="gateway-stub")

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def paths(self) -> list[tuple[str, str]]:
        """(path, model) of every request, in order."""
        return [(r["path"], r["body"].get("model", "")) for r in self.requests]


@pytest.fixture
def gateway_stub():
    stub = GatewayStub().start()
    yield stub
    stub.stop()
