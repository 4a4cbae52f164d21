"""A network guard for tests that let a fuzzer drive the app: every outbound connection
and name lookup from this process is refused unless it goes to the loopback interface.

Fuzzed input names arbitrary URLs (webhook endpoints, catalog URLs, IdP issuers, domains
to verify); with eager Celery tasks the app would try to reach them from the test process.
The guard turns each such attempt into the connection error the app already handles, so
the run stays on this machine. PostgreSQL, Redis and the live server are on 127.0.0.1.
"""

import ipaddress
import socket

REFUSED = "refused by the test network guard: only loopback addresses are reachable"


def _loopback(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).split("%")[0]
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check(sock, address):
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
        raise ConnectionRefusedError(f"{address[0]}: {REFUSED}")


def install(monkeypatch):
    """Patch socket lookups and connections for the rest of the test (undone by
    monkeypatch at teardown)."""
    real_getaddrinfo = socket.getaddrinfo
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_sendto = socket.socket.sendto

    def getaddrinfo(host, *args, **kwargs):
        if host is not None and not _loopback(host):
            raise socket.gaierror(socket.EAI_NONAME, f"{host}: {REFUSED}")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self, address):
        _check(self, address)
        return real_connect(self, address)

    def connect_ex(self, address):
        _check(self, address)
        return real_connect_ex(self, address)

    def sendto(self, data, *args):
        _check(self, args[-1])
        return real_sendto(self, data, *args)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket.socket, "sendto", sendto)


PUBLIC_ADDRESS = "93.184.215.14"  # never reached: connect() to it is refused above


def resolve_names_publicly(monkeypatch):
    """orgs/outbound.py's lookups answer a public address for any name (literal IPs stay
    themselves), so the outbound policy accepts saved URLs as it would in production."""
    from orgs import outbound

    def resolve(host, port):
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            return [PUBLIC_ADDRESS]

    monkeypatch.setattr(outbound, "resolve", resolve)
