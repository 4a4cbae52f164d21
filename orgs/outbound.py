"""One policy for every HTTP request the server makes to an address a user chose (SSRF).

Every fetcher goes through `fetch` (or `session()`, a requests.Session built on it, for
allauth): webhook deliveries, the smoke-test gateway, catalog URL imports and the
scheduled refresh, OIDC discovery, SAML metadata, JWKS, and allauth's calls to an IdP.

For each hop, `fetch`:
- resolves the host once and refuses when ANY address is loopback, private, link-local,
  multicast, reserved or otherwise not public, unless it lies in
  settings.OUTBOUND_ALLOWED_NETWORKS;
- connects to exactly the address it checked (the socket is opened to the IP, TLS
  verifies the host name), so a DNS answer that changes between check and connect
  (rebinding) cannot move the request;
- follows redirects only when the caller allows them, checking every hop again;
- caps the whole exchange (every hop, connect and read) at one deadline, enforced by a
  watchdog that closes the socket, and the body at max_bytes (no compression asked for);
- raises OutboundError whose message names only scheme, host and reason: never the
  response body, the path or query (which may hold a token), nor a secret header.
"""

import contextlib
import http.client
import ipaddress
import json
import os
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from functools import cache
from urllib.parse import urljoin, urlsplit

import requests
import requests.adapters
from django.conf import settings
from django.core.exceptions import ValidationError
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

DEFAULT_TIMEOUT = 10  # seconds for the whole exchange, all hops
DEFAULT_MAX_BYTES = 1 << 20
REDIRECTS = frozenset({301, 302, 303, 307, 308})
CHUNK = 1 << 16


class OutboundError(Exception):
    """The request could not be made or completed; str(exc) is safe to show and log.
    `reason` is one of: refused, unresolvable, timeout, connect, tls, too_large,
    redirects, protocol."""

    def __init__(self, message: str, *, reason: str):
        super().__init__(message)
        self.reason = reason


class OutboundRefused(OutboundError):
    """The policy refused the destination before any connection was opened."""


@dataclass
class Response:
    status: int
    reason: str
    headers: dict  # lower-cased names
    content: bytes
    url: str

    @property
    def text(self) -> str:
        charset = "utf-8"
        for part in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                charset = value.strip('"')
        try:
            return self.content.decode(charset, errors="replace")
        except LookupError:  # an unknown charset name
            return self.content.decode("utf-8", errors="replace")

    def json(self):
        """The body as JSON; ValueError when it is not."""
        return json.loads(self.content)


def resolve(host: str, port: int) -> list[str]:
    """The addresses of host (tests replace this to answer with private addresses
    without any DNS or traffic)."""
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(info[4][0].split("%")[0] for info in infos))


def _origin(parts) -> str:
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


@cache
def _allowed_networks(spec: tuple[str, ...]):
    return [ipaddress.ip_network(n, strict=False) for n in spec]


def _ip(address: str):
    ip = ipaddress.ip_address(address)
    return getattr(ip, "ipv4_mapped", None) or ip  # ::ffff:10.0.0.1 is 10.0.0.1


def is_explicitly_allowed(address: str) -> bool:
    """True when address lies inside settings.OUTBOUND_ALLOWED_NETWORKS."""
    ip = _ip(address)
    return any(ip in net for net in _allowed_networks(tuple(settings.OUTBOUND_ALLOWED_NETWORKS)))


def is_allowed_address(address: str) -> bool:
    """True for a public address, or one inside OUTBOUND_ALLOWED_NETWORKS."""
    ip = _ip(address)
    if is_explicitly_allowed(address):
        return True
    # is_global is False for loopback, RFC 1918, link-local (169.254.169.254), CGNAT,
    # documentation and reserved ranges; multicast can be "global" but is never a server.
    return ip.is_global and not ip.is_multicast


def _split(url: str):
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutboundRefused("Use an http:// or https:// URL with a host name.",
                              reason="refused")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise OutboundRefused("The port is not a number from 1 to 65535.",
                              reason="refused") from None
    return parts, port


def check(url: str) -> list[str]:
    """Resolve url's host and return its addresses if every one is allowed; else raise
    OutboundRefused. No connection is made. Used by fetch on every hop, and by forms and
    services that save a URL for later, so a bad one fails on the form."""
    parts, port = _split(url)
    try:
        addresses = resolve(parts.hostname, port)
    except (OSError, UnicodeError):
        addresses = []
    if not addresses:
        raise OutboundRefused(f"The host {parts.hostname} does not resolve.",
                              reason="unresolvable")
    for address in addresses:
        if not is_allowed_address(address):
            raise OutboundRefused(
                f"{parts.hostname} resolves to {address}, a loopback, private or link-local "
                "address. The server only connects to public addresses.", reason="refused")
    return addresses


def validate_url(url: str, *, field: str = "url"):
    """check(url) for forms and services: ValidationError({field: message})."""
    try:
        check(url)
    except OutboundRefused as exc:
        raise ValidationError({field: str(exc)}) from None


@cache
def _tls_context(cafile: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=cafile)


def _ca_file() -> str:
    import certifi  # the bundle requests uses, so behaviour matches what callers had

    return os.environ.get("REQUESTS_CA_BUNDLE") or certifi.where()


def _remaining(deadline: float, origin: str, timeout: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise OutboundError(f"{origin} timed out after {timeout:g} s.", reason="timeout")
    return left


def _connect(parts, port, addresses, deadline, timeout) -> socket.socket:
    origin, last = _origin(parts), None
    for address in addresses:  # each one was checked; try them in resolver order
        try:
            sock = socket.create_connection(
                (address, port), timeout=_remaining(deadline, origin, timeout))
        except TimeoutError:
            raise OutboundError(f"{origin} timed out after {timeout:g} s.",
                                reason="timeout") from None
        except OSError as exc:
            last = exc
            continue
        if parts.scheme == "https":
            try:
                sock = _tls_context(_ca_file()).wrap_socket(sock, server_hostname=parts.hostname)
            except (ssl.SSLError, ssl.CertificateError, OSError) as exc:
                sock.close()
                raise OutboundError(f"TLS with {origin} failed ({type(exc).__name__}).",
                                    reason="tls") from None
        return sock
    what = "connection refused" if isinstance(last, ConnectionRefusedError) else \
        type(last).__name__
    raise OutboundError(f"Could not connect to {origin} ({what}).", reason="connect")


def _read_body(resp, sock, origin, deadline, timeout, max_bytes) -> bytes:
    length = resp.getheader("content-length")
    if length and length.isdigit() and int(length) > max_bytes:
        raise OutboundError(f"{origin} sent more than {max_bytes} bytes.", reason="too_large")
    body = bytearray()
    while True:
        sock.settimeout(_remaining(deadline, origin, timeout))
        chunk = resp.read1(CHUNK)
        if not chunk:
            # The watchdog's shutdown looks like the end of the body: a cut-off answer
            # must not pass for a whole one.
            _remaining(deadline, origin, timeout)
            if length and length.isdigit() and len(body) < int(length):
                raise OutboundError(f"{origin} ended its answer early.", reason="protocol")
            return bytes(body)
        body += chunk
        if len(body) > max_bytes:
            raise OutboundError(f"{origin} sent more than {max_bytes} bytes.",
                                reason="too_large")


def _send(method, url, body, headers, deadline, timeout, max_bytes) -> Response:
    """One hop: check, connect to the checked address, send, read (capped)."""
    parts, port = _split(url)
    origin = _origin(parts)
    sock = _connect(parts, port, check(url), deadline, timeout)
    # The watchdog closes the socket at the deadline, so a server that drips one byte
    # at a time cannot hold us past it (per-read timeouts alone would not stop it).
    watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), _shut, [sock])
    watchdog.daemon = True
    watchdog.start()
    conn = http.client.HTTPConnection(parts.hostname, port)
    conn.sock = sock  # already connected to the checked address: http.client never resolves
    try:
        path = parts.path or "/"
        conn.request(method, path + (f"?{parts.query}" if parts.query else ""), body=body,
                     headers={"Accept-Encoding": "identity", **(headers or {})})
        resp = conn.getresponse()
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        content = b"" if resp.status in REDIRECTS else \
            _read_body(resp, sock, origin, deadline, timeout, max_bytes)
        return Response(status=resp.status, reason=resp.reason, headers=hdrs,
                        content=content, url=url)
    except OutboundError:
        raise
    except (TimeoutError, OSError, http.client.HTTPException) as exc:
        if time.monotonic() >= deadline or isinstance(exc, TimeoutError):
            raise OutboundError(f"{origin} timed out after {timeout:g} s.",
                                reason="timeout") from None
        raise OutboundError(f"{origin} did not answer with valid HTTP "
                            f"({type(exc).__name__}).", reason="protocol") from None
    finally:
        watchdog.cancel()
        conn.close()


def _shut(sock):
    with contextlib.suppress(OSError):  # already closed: it finished just in time
        sock.shutdown(socket.SHUT_RDWR)


def fetch(method: str, url: str, *, body: bytes | None = None, headers: dict | None = None,
          timeout: float = DEFAULT_TIMEOUT, max_bytes: int = DEFAULT_MAX_BYTES,
          max_redirects: int = 0) -> Response:
    """Make one request under the outbound policy (see the module docstring) and return
    the final Response, whatever its status. With max_redirects=0 a 3xx is returned as
    is; otherwise up to max_redirects hops are followed, each checked again. Raises
    OutboundRefused before connecting to a refused address, OutboundError otherwise.
    Any server code may call it; it changes nothing and audits nothing (callers do)."""
    deadline = time.monotonic() + timeout
    headers = dict(headers or {})
    for _hop in range(max_redirects + 1):
        response = _send(method, url, body, headers, deadline, timeout, max_bytes)
        location = response.headers.get("location")
        if response.status not in REDIRECTS or not location or not max_redirects:
            return response
        next_url = urljoin(url, location)
        if urlsplit(next_url).netloc != urlsplit(url).netloc:
            # Like browsers and requests: credentials never follow to another host.
            headers = {k: v for k, v in headers.items()
                       if k.lower() not in ("authorization", "cookie")}
        if response.status == 303 or (response.status in (301, 302) and method == "POST"):
            method, body = "GET", None
        url = next_url
    raise OutboundError(f"{_origin(urlsplit(url))} redirected more than {max_redirects} "
                        "times.", reason="redirects")


def session(*, timeout: float = DEFAULT_TIMEOUT, max_bytes: int = DEFAULT_MAX_BYTES):
    """A requests.Session whose every request (and every redirect hop, which requests
    sends through the adapter again) goes through fetch, with `timeout` seconds per
    request unless the caller gives one. For libraries that take a session, i.e. allauth
    (orgs/adapters.py get_requests_session)."""
    s = requests.Session()
    s.trust_env = False  # no proxy or netrc from the environment: we connect ourselves
    s.max_redirects = 5
    adapter = _RequestsAdapter(timeout, max_bytes)
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    return s


class _RequestsAdapter(requests.adapters.BaseAdapter):
    def __init__(self, timeout: float, max_bytes: int):
        super().__init__()
        self.timeout, self.max_bytes = timeout, max_bytes

    def send(self, request, stream=False, timeout=None, verify=True, cert=None,
             proxies=None):
        if isinstance(timeout, tuple):
            timeout = sum(t for t in timeout if t)
        body = request.body.encode() if isinstance(request.body, str) else request.body
        try:
            result = fetch(request.method, request.url, body=body,
                           headers=dict(request.headers), timeout=timeout or self.timeout,
                           max_bytes=self.max_bytes)
        except OutboundError as exc:
            raise requests.ConnectionError(str(exc), request=request) from None
        response = requests.Response()
        response.status_code, response.reason = result.status, result.reason
        response.headers = CaseInsensitiveDict(result.headers)
        response.encoding = get_encoding_from_headers(response.headers)
        response._content, response.url = result.content, result.url
        response.request, response.connection = request, self
        return response

    def close(self):
        pass
