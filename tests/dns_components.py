"""A real DNS server for the domain-verification tests: dnsmasq on 127.0.0.1, one per test
session (and xdist worker), answering TXT records for names under `.test`.

dnsmasq reads --txt-record only at start (SIGHUP does not reload them), so publishing or
withdrawing a record restarts it on the same port, and the next query waits until the new
process answers a probe record carrying the new generation number. Names under `.test`
it does not know get NXDOMAIN (--local=/test/), as a real zone would answer; anything else
is REFUSED. dnsmasq missing is a failure, never a skip (bin/test installs dnsmasq-base).
"""

import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field

import pytest
from dns.exception import DNSException
from dns.nameserver import Do53Nameserver
from dns.resolver import Resolver

from tests.sso_components import free_port

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
PROBE = "probe.governance.test"


def dnsmasq_path() -> str:
    path = shutil.which("dnsmasq") or shutil.which("dnsmasq", path="/usr/sbin:/sbin")
    if path is None:
        pytest.fail("dnsmasq not found: the domain-verification tests resolve against a real "
                    "DNS server (apt-get install -y dnsmasq-base; bin/test does it as root).")
    return path


@dataclass
class DNSServer:
    port: int
    records: dict[str, list[str]] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    generation: int = 0

    def publish(self, name: str, text: str):
        """Add the TXT record `name TXT "text"` and wait until it is served."""
        self.records.setdefault(name, []).append(text)
        self.restart()

    def withdraw(self, name: str):
        """Remove every TXT record of name and wait until the server no longer has it."""
        self.records.pop(name, None)
        self.restart()

    def reset(self):
        if self.records:
            self.records.clear()
            self.restart()

    def restart(self):
        self.stop()
        self.generation += 1
        args = [dnsmasq_path(), "--no-daemon", "--bind-interfaces", f"--port={self.port}",
                "--listen-address=127.0.0.1", "--no-resolv", "--no-hosts", "--local=/test/",
                f"--txt-record={PROBE},gen={self.generation}"]
        args += [f"--txt-record={name},{text}" for name, texts in self.records.items()
                 for text in texts]
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, text=True)
        self._wait_ready()

    def _wait_ready(self):
        resolver = Resolver(configure=False)
        resolver.nameservers = [Do53Nameserver("127.0.0.1", self.port)]
        resolver.lifetime = 0.5
        want = f"gen={self.generation}".encode()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                answer = resolver.resolve(PROBE, "TXT")
                if any(want in b"".join(r.strings) for r in answer):
                    return
            except DNSException:
                time.sleep(0.02)  # polling the server's start-up, not waiting on a test effect
        output = self.process.stdout.read() if self.process.poll() is not None else ""
        self.stop()
        pytest.fail(f"dnsmasq did not answer on 127.0.0.1:{self.port}. Its output:\n{output}")

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)


@pytest.fixture(scope="session")
def dns_server():
    """dnsmasq for this session (stopped by its PID at the end)."""
    server = DNSServer(port=free_port())
    server.restart()
    yield server
    server.stop()


@pytest.fixture
def dns(dns_server, settings):
    """The session's DNS server as this test's resolver (settings, so the live server in
    this process uses it too); the records a test published are gone after it."""
    settings.DNS_RESOLVER_NAMESERVERS = [("127.0.0.1", dns_server.port)]
    settings.DNS_RESOLVER_TIMEOUT = 2
    yield dns_server
    dns_server.reset()


def verify_domain(dns_server: DNSServer, org, actor, domain: str):
    """Add domain to org and prove it the way an admin does: publish its TXT record on the
    test DNS server, then check DNS (a real query). Returns the verified row."""
    from orgs.sso import services as sso

    row = sso.domain_add(org=org, actor=actor, domain=domain)
    dns_server.publish(domain, row.txt_record)
    return sso.domain_verify_dns(org=org, actor=actor, domain=row)
