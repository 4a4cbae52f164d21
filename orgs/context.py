"""Per-request facts (request id, client address) that the audit log records.

Set by orgs.middleware.RequestContextMiddleware for web requests; tasks and commands
leave them empty, or set them with `request_context(...)`.
"""

import contextvars
from contextlib import contextmanager

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
client_ip_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "client_ip", default=None
)


@contextmanager
def request_context(*, request_id: str = "", client_ip: str | None = None):
    t1 = request_id_var.set(request_id)
    t2 = client_ip_var.set(client_ip)
    try:
        yield
    finally:
        request_id_var.reset(t1)
        client_ip_var.reset(t2)
