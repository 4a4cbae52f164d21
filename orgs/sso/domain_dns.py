"""Reading an email domain's TXT records with a real DNS query (dnspython).

The resolver is the system's, or the servers in settings.DNS_RESOLVER_NAMESERVERS (the
tests point it at a dnsmasq they start). Nothing is cached here: a record that was
removed must be seen as gone by the next recheck.
"""

import dns.exception
import dns.nameserver
import dns.resolver
from django.conf import settings


class DNSUnavailable(Exception):
    """The resolver gave no answer (timeout, SERVFAIL, no server): nothing can be concluded
    about the record, so a verified domain stays verified."""


def _resolver():
    """dnspython's resolver: the system's, or settings.DNS_RESOLVER_NAMESERVERS."""
    servers = settings.DNS_RESOLVER_NAMESERVERS
    resolver = dns.resolver.Resolver(configure=not servers)
    if servers:
        resolver.nameservers = [dns.nameserver.Do53Nameserver(host, port)
                                for host, port in servers]
    resolver.lifetime = settings.DNS_RESOLVER_TIMEOUT
    resolver.cache = None  # a record that disappeared must be seen as gone at once
    return resolver


def txt_records(domain: str) -> list[str]:
    """The TXT strings of domain, read by a real DNS query: [] when the name or its TXT
    records do not exist; DNSUnavailable when no server answered."""
    try:
        answer = _resolver().resolve(domain, "TXT", search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.DNSException as exc:  # timeout, SERVFAIL from every server, ...
        raise DNSUnavailable(f"{type(exc).__name__}") from None
    return [b"".join(r.strings).decode(errors="replace") for r in answer]
