"""Checking an evidence pack's ZIP against its manifest (manage.py verify_evidence_pack).

Needs no database: a pack is verified wherever it was copied to. Every file the manifest
lists (each item's path, and "files" such as summary.html) must be in the ZIP once, with
the listed SHA-256; nothing else may be in it besides manifest.json; and the problems the
builder recorded (a stored file that was gone or changed) count as problems too. Each
audit extract's events are checked as well: every event's hash is recomputed from the
content it covers (orgs.audit.AuditEvent.compute_hash, offline).
"""

import hashlib
import json
import zipfile
from dataclasses import dataclass, field

from approvals.packs.archive import MANIFEST

CHUNK = 64 * 1024


@dataclass
class Report:
    checked: int = 0
    problems: list[str] = field(default_factory=list)
    manifest: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def _sha256(zf: zipfile.ZipFile, name: str) -> str:
    digest = hashlib.sha256()
    with zf.open(name) as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _expected(manifest: dict, report: Report) -> dict[str, str]:
    """{path: sha256} of every file the manifest lists."""
    expected = {}
    listed = [(e.get("path"), e.get("sha256")) for e in manifest.get("items", [])]
    listed += [(f.get("path"), f.get("sha256")) for f in manifest.get("files", [])]
    for path, sha in listed:
        if not path:
            continue  # the builder could not include it; its problem says why
        if path in expected or path == MANIFEST:
            report.problems.append(f"{path}: listed twice in the manifest")
        expected[path] = sha
    return expected


def event_hash(event: dict) -> str:
    """An extracted audit event's hash, recomputed: SHA-256 of the canonical JSON (sorted
    keys, no spaces) of the event without its "id" and "hash"."""
    body = {k: v for k, v in event.items() if k not in ("id", "hash")}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"))
                          .encode()).hexdigest()


def _extract_problems(zf: zipfile.ZipFile, path: str) -> list[str]:
    try:
        events = json.loads(zf.read(path))["content"]["events"]
    except (ValueError, KeyError, TypeError):
        return [f"{path}: not a readable audit extract"]
    return [f"{path}: audit event #{e.get('seq')} ({e.get('action')}) does not match its "
            "hash" for e in events if event_hash(e) != e.get("hash")]


def verify_pack(source) -> Report:
    """Verify the pack at `source` (a path or a binary file). Raises zipfile.BadZipFile
    or ValueError (no readable manifest) when it is not a pack at all."""
    report = Report()
    with zipfile.ZipFile(source) as zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
        if MANIFEST not in names:
            raise ValueError("the ZIP has no manifest.json: it is not an evidence pack")
        try:
            report.manifest = json.loads(zf.read(MANIFEST))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"manifest.json is not valid JSON ({exc})") from None
        expected = _expected(report.manifest, report)
        seen = set()
        for name in names:
            if name in seen:
                report.problems.append(f"{name}: in the ZIP more than once")
            seen.add(name)
        for path, sha in expected.items():
            if path not in seen:
                report.problems.append(f"{path}: missing (listed in the manifest)")
                continue
            report.checked += 1
            actual = _sha256(zf, path)
            if actual != sha:
                report.problems.append(f"{path}: SHA-256 mismatch (manifest {sha}, "
                                       f"file {actual})")
        for name in sorted(seen - set(expected) - {MANIFEST}):
            report.problems.append(f"{name}: not listed in the manifest")
        for entry in report.manifest.get("items", []):
            if entry.get("kind") == "audit_extract" and entry.get("path") in seen:
                report.problems += _extract_problems(zf, entry["path"])
    for problem in report.manifest.get("problems", []):
        report.problems.append(f"recorded when the pack was built: {problem}")
    return report
