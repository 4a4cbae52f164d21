"""A small Python client for gateways: `decide(base_url, secret, model=..., ...)`.

Fails closed: any transport error, timeout or non-200 answer raises DecisionError, and a
gateway should treat that as deny (see docs/gateway-integration.md)."""

from dataclasses import dataclass, field

import requests


class DecisionError(Exception):
    """The decision service could not answer; treat as deny."""


@dataclass(frozen=True)
class Decision:
    allow: bool
    reasons: list
    message: str
    row: str | None = None
    rule: str | None = None
    remaining_budget: dict | None = None
    fallbacks: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    @classmethod
    def from_json(cls, body: dict) -> "Decision":
        return cls(allow=body["decision"] == "allow", reasons=body["reasons"],
                   message=body["message"], row=body.get("row"), rule=body.get("rule"),
                   remaining_budget=body.get("remaining_budget"),
                   fallbacks=body.get("fallbacks") or [], warnings=body.get("warnings") or [])


def _post(base_url, path, secret, payload, timeout, session):
    http = session or requests
    try:
        response = http.post(f"{base_url.rstrip('/')}/api/v1/{path}", json=payload,
                             headers={"Authorization": f"Bearer {secret}"}, timeout=timeout)
    except requests.RequestException as exc:
        raise DecisionError(f"The decision service did not answer: {exc}") from exc
    if response.status_code != 200:
        raise DecisionError(f"The decision service answered {response.status_code}: "
                            f"{response.text[:500]}")
    return response.json()


def decide(base_url: str, secret: str, *, model: str, action: str, data_class: str,
           environment: str, timeout: float = 2.0,
           session: requests.Session | None = None) -> Decision:
    """Ask whether the holder of `secret` may make this call."""
    body = _post(base_url, "decisions", secret,
                 {"model": model, "action": action, "data_class": data_class,
                  "environment": environment}, timeout, session)
    return Decision.from_json(body)


def decide_batch(base_url: str, secret: str, queries: list[dict], *, timeout: float = 5.0,
                 session: requests.Session | None = None) -> list[Decision]:
    """One decision per {model, action, data_class, environment} dict (at most 100)."""
    body = _post(base_url, "decisions/batch", secret, {"requests": queries}, timeout, session)
    return [Decision.from_json(item) for item in body["decisions"]]
