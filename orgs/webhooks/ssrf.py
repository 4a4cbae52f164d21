"""Refuse webhook URLs that reach into our own network (SSRF).

Checked when an endpoint is saved and again before every delivery (DNS may change). The
honest limit: the HTTP client resolves the name once more when it connects, so a DNS
answer that flips between the check and the connection (rebinding) is not caught here;
an egress proxy that enforces the same rule closes that gap in production.
"""

import ipaddress
import socket
from urllib.parse import urlparse

from django.conf import settings
from django.core.exceptions import ValidationError


def _blocked(ip: ipaddress._BaseAddress) -> bool:
    return (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved
            or ip.is_multicast or ip.is_unspecified)


def check_destination(url: str, *, field: str = "url", allow_private: bool | None = None,
                      who: str = "Webhooks"):
    """Raise ValidationError({field: ...}) if url is not an allowed destination. Webhooks
    use the defaults; the smoke-test gateway (evidence/gateway.py) passes its own field,
    name and setting (GATEWAY_ALLOW_PRIVATE_NETWORKS)."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValidationError({field: "Use an http:// or https:// URL with a host name."})
    if settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS if allow_private is None else allow_private:
        return
    try:
        infos = socket.getaddrinfo(parsed.hostname, parsed.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise ValidationError({field: f"The host {parsed.hostname} does not resolve."}) from None
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%")[0])
        if _blocked(ip):
            raise ValidationError({field: f"{parsed.hostname} resolves to {ip}, a loopback, "
                                          f"private or link-local address. {who} only go to "
                                          "public addresses."})
