"""Real identity providers for the SSO tests, started once per test session.

`oidc_idp`: oidc-provider (npm) on 127.0.0.1 with a confidential client whose redirect
URIs point at this session's live server. `saml_idp`: samlp + express, signing with a key
made by openssl for this session. Both are Node processes started here and stopped by
their PID. Node or the npm packages missing is a failure, never a skip (bin/test installs
them with `npm ci`).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings

IDP_DIR = Path(__file__).parent / "idp"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0

OIDC_CLIENT_ID = "governance-tests"
OIDC_CLIENT_SECRET = "oidc-client-secret-for-tests-only"
# Connection ids the tests use; each needs its exact redirect URI at the IdP.
OIDC_PROVIDER_IDS = ["acme-oidc", "acme-oidc-2", "globex-oidc", "acme-wrong-secret",
                     "evil-oidc"]
SAML_PASSWORD = "saml-password-for-tests"
# Unique per session: allauth's confirmation-mail cooldown for an address lives in the
# shared test cache, and would hold back the mail of a run started within 3 minutes.
UNVERIFIED_EMAIL = f"unverified-{uuid.uuid4().hex[:8]}@acme.test"
# People at the IdPs. email_verified defaults to true; groups feed the role mapping.
IDP_USERS = {
    "alice@acme.test": {"groups": ["engineering"]},
    "sam@acme.test": {"groups": ["engineering", "secops"]},
    "root@acme.test": {"groups": ["owners", "admins"]},
    UNVERIFIED_EMAIL: {"email_verified": False},
    "carol@acme.test": {"groups": ["secops"]},
    "dave@acme.test": {"groups": []},
    "bob@globex.test": {"groups": ["admins"]},
    # Issue 12.1: whom an attacker's IdP claims to be (it says email_verified=true).
    "owner@acme.test": {"groups": ["owners"]},
    "founder@lapsed.test": {"groups": []},
    "consultant@acme.test": {"groups": []},
}


@dataclass
class NodeProcess:
    name: str
    process: subprocess.Popen
    port: int
    output: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return "".join(self.output)[-6000:]

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _check_node(package: str):
    node = shutil.which("node")
    if node is None:
        pytest.fail("node not found: the SSO tests run real identity providers on Node.js 20+ "
                    "(bin/test installs it as root).")
    if not (settings.BASE_DIR / "node_modules" / package / "package.json").exists():
        pytest.fail(f"node_modules/{package} is missing: run `npm ci` (bin/test does).")
    return node


def start_node(name: str, script: Path, config: dict, tmp: Path, package: str) -> NodeProcess:
    """Start `node script config.json` and wait until it prints 'listening <port>'."""
    node = _check_node(package)
    config_path = tmp / f"{name}.json"
    config_path.write_text(json.dumps(config))
    process = subprocess.Popen(
        [node, str(script), str(config_path)], cwd=settings.BASE_DIR,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
        env={**os.environ, "NODE_ENV": "test"},
    )
    handle = NodeProcess(name=name, process=process, port=config["port"])
    ready = threading.Event()

    def pump():
        for line in process.stdout:
            handle.output.append(line)
            if line.startswith("listening "):
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT
    while not ready.wait(0.05):
        if process.poll() is not None or time.monotonic() > deadline:
            handle.stop()
            pytest.fail(f"The {name} identity provider did not start. Its output:\n"
                        f"{handle.log()}")
    return handle


@pytest.fixture(scope="session")
def oidc_idp(live_server, tmp_path_factory):
    """oidc-provider for this session; .url is the issuer. Stopped by PID at the end."""
    port = free_port()
    config = {
        "port": port,
        "issuer": f"http://127.0.0.1:{port}",
        "clients": [{
            "client_id": OIDC_CLIENT_ID, "client_secret": OIDC_CLIENT_SECRET,
            "redirect_uris": [f"{live_server.url}/accounts/oidc/{pid}/login/callback/"
                              for pid in OIDC_PROVIDER_IDS],
        }],
        "users": IDP_USERS,
    }
    handle = start_node("oidc", IDP_DIR / "oidc_idp.mjs", config,
                        tmp_path_factory.mktemp("oidc-idp"), "oidc-provider")
    yield handle
    handle.stop()


def _openssl_keypair(tmp: Path, name: str) -> tuple[str, str]:
    key, cert = tmp / f"{name}.key", tmp / f"{name}.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2",
         "-subj", f"/CN={name}.idp.test", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return key.read_text(), cert.read_text()


@pytest.fixture(scope="session")
def saml_idp(tmp_path_factory):
    """samlp IdP for this session; metadata at .url + '/metadata'."""
    if shutil.which("openssl") is None:
        pytest.fail("openssl not found: the SAML IdP signs with a key made by openssl.")
    tmp = tmp_path_factory.mktemp("saml-idp")
    key, cert = _openssl_keypair(tmp, "signing")
    wrong_key, _ = _openssl_keypair(tmp, "impostor")
    port = free_port()
    config = {
        "port": port, "issuer": f"http://127.0.0.1:{port}/metadata", "cert": cert,
        "key": key, "wrong_key": wrong_key,
        "users": {email: {**user, "password": SAML_PASSWORD}
                  for email, user in IDP_USERS.items()},
    }
    handle = start_node("saml", IDP_DIR / "saml_idp.js", config, tmp, "samlp")
    yield handle
    handle.stop()
