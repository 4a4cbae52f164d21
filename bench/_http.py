"""HTTP benchmark helpers: gunicorn on a free loopback port with the production settings,
and wrk driving it at a fixed concurrency (bench/decisions.py uses them)."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def ensure_wrk() -> str:
    """The wrk binary; installed from Debian when missing and running as root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("bench: wrk is not installed; run `apt-get install -y wrk` as root "
                         "(or run this bench as root, which installs it).")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env)
    return shutil.which("wrk") or sys.exit("bench: apt-get installed no wrk binary")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(env: dict, *, workers: int, threads: int, log: Path):
    """gunicorn serving governance.wsgi on 127.0.0.1:<free port>; (process, base URL)."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "governance.wsgi:application",
               "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
               "--worker-class", "gthread", "--threads", str(threads), "--keep-alive", "5",
               "--chdir", str(ROOT), "--pythonpath", str(ROOT), "--log-level", "warning",
               "--error-logfile", str(log)]
    process = subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return process, f"http://127.0.0.1:{port}"


def wait_ready(process, url: str, body: dict, headers: dict, log: Path, timeout=60.0):
    """Wait until `url` answers 200 to the benchmark's request; returns the JSON answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"bench: gunicorn exited ({process.returncode}):\n"
                             f"{log.read_text()[-3000:]}")
        request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json",
                                                  **headers})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return json.loads(response.read())
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"bench: {url} did not answer in {timeout:.0f} s:\n"
                     f"{log.read_text()[-3000:]}")


def stop(process, grace: float = 10.0):
    """SIGTERM the gunicorn master by its PID (its workers flush and exit), then SIGKILL."""
    if process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()


def _lua(body: dict, headers: dict) -> str:
    lines = ['wrk.method = "POST"', f"wrk.body = [==[{json.dumps(body)}]==]",
             'wrk.headers["Content-Type"] = "application/json"']
    lines += [f'wrk.headers["{name}"] = [==[{value}]==]' for name, value in headers.items()]
    return "\n".join(lines) + "\n"


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()
    return float(number) * UNITS[unit]


def parse_wrk(text: str) -> dict:
    """requests/s, p50 and p99 in ms, request and non-2xx counts from `wrk --latency`."""
    found = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
             "p50": _ms(re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1)),
             "p99": _ms(re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1)),
             "requests": int(re.search(r"(\d+) requests in", text).group(1))}
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    socket_errors = re.search(r"Socket errors: (.*)", text)
    found["errors"] = int(errors.group(1)) if errors else 0
    found["socket_errors"] = socket_errors.group(1) if socket_errors else ""
    return found


def run_wrk(wrk: str, url: str, body: dict, headers: dict, *, seconds: int,
            connections: int = 16, threads: int = 2) -> dict:
    """One wrk run POSTing `body` with `headers` at `connections` concurrency."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_lua(body, headers))
    try:
        result = subprocess.run(
            [wrk, "--latency", "-t", str(threads), "-c", str(connections), "-d",
             f"{seconds}s", "-s", script.name, url],
            capture_output=True, text=True, check=True, timeout=seconds + 60)
    finally:
        os.unlink(script.name)
    return parse_wrk(result.stdout)
