"""GET /healthz: is this instance able to do its work?

Four checks, each bounded in time, none of which writes anything:

- database: `SELECT 1` on the default connection.
- broker: open a connection to CELERY_BROKER_URL (one attempt, about 2 s at most).
- worker: a Celery control `ping` over that connection; every worker that answers
  within 1 s is listed by node name. Skipped (reported down) when the broker is down.

- audit_checkpoints: is an audit signing key configured (AUDIT_SIGNING_KEY)? Without it
  nothing signs the audit chain's head, so a rewritten log goes unnoticed: loud on purpose.

200 with {"status": "ok"} when all four pass, else 503 with {"status": "degraded"}.

Besides the checks, "metrics" holds counters that do not decide the status:
`unverified_exchanges`, the token exchanges refused before their signature verified
(forged or broken tokens naming a trusted issuer; projects/exchange_watch.py) in the
current and the previous window of UNVERIFIED_EXCHANGE_WINDOW_SECONDS.
No authentication: a load balancer or an uptime monitor calls it. The answer never
holds a URL, a host name of a backing service or an exception message (which may carry
credentials), only check names, booleans, timings, worker names and exception class
names.
"""

import time

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from governance.celery import app as celery_app
from projects.exchange_watch import unverified_metric

BROKER_TIMEOUT = 2.0  # seconds for the one connection attempt
# Seconds to collect worker replies. On a polling transport (filesystem://, the
# zero-setup default) both sides poll once a second, so the ping there takes about 2 s.
PING_TIMEOUT = 1.0


def _ms(start: float) -> int:
    return round((time.monotonic() - start) * 1000)


def check_database() -> dict:
    start = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure means "down"; the class name says which
        return {"ok": False, "error": type(exc).__name__, "ms": _ms(start)}
    return {"ok": True, "ms": _ms(start)}


def check_broker_and_worker() -> tuple[dict, dict]:
    """(broker check, worker check), sharing one broker connection."""
    start = time.monotonic()
    conn = celery_app.connection_for_write(connect_timeout=BROKER_TIMEOUT)
    try:
        try:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0,
                                   timeout=BROKER_TIMEOUT)
        except Exception as exc:
            broker = {"ok": False, "error": type(exc).__name__, "ms": _ms(start)}
            worker = {"ok": False, "workers": [], "error": "broker unreachable"}
            return broker, worker
        broker = {"ok": True, "transport": conn.transport_cls, "ms": _ms(start)}

        start = time.monotonic()
        try:
            replies = celery_app.control.ping(timeout=PING_TIMEOUT, connection=conn) or []
        except Exception as exc:
            worker = {"ok": False, "workers": [], "error": type(exc).__name__, "ms": _ms(start)}
            return broker, worker
        names = sorted(name for reply in replies for name in reply)
        worker = {"ok": bool(names), "workers": names, "ms": _ms(start)}
        return broker, worker
    finally:
        conn.release()


def check_audit_checkpoints() -> dict:
    if settings.AUDIT_SIGNING_KEY:
        return {"ok": True}
    return {"ok": False, "error": "AUDIT_SIGNING_KEY is not set: checkpoints are off"}


@never_cache
@require_safe
def healthz(request):
    database = check_database()
    broker, worker = check_broker_and_worker()
    checks = {"database": database, "broker": broker, "worker": worker,
              "audit_checkpoints": check_audit_checkpoints()}
    healthy = all(check["ok"] for check in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "degraded", "checks": checks,
         "metrics": {"unverified_exchanges": unverified_metric()}},
        status=200 if healthy else 503,
    )
