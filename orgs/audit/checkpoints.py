"""Signed checkpoints of the audit chain, their file outside the database, verification.

A checkpoint is an org's chain head (seq, hash) at a time, signed with the Ed25519 key
of settings.AUDIT_SIGNING_KEY, stored as an AuditCheckpoint row and appended as one JSON
line to settings.AUDIT_CHECKPOINT_FILE. Somebody who can write to the database but does
not hold the key can still rewrite events and recompute every later hash and the head,
or cut the newest events and move the head back; the chain then verifies on its own,
but no longer matches the signed heads (verify_chain). Deleting or editing checkpoint
rows is caught by comparing them with the file, and forging one needs the key.
"""

import fcntl
import json
import os
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from orgs.audit import signing
from orgs.audit.chain import chain_problem
from orgs.audit.models import AuditChainHead, AuditCheckpoint


class CheckpointsOff(Exception):
    """No signing key is configured (AUDIT_SIGNING_KEY / AUDIT_SIGNING_KEY_FILE)."""


class ChainBroken(Exception):
    """The chain no longer extends the last signed checkpoint: nothing is signed."""


def _entry(checkpoint: AuditCheckpoint) -> dict:
    return {"format": signing.CHECKPOINT_FORMAT, "org": checkpoint.org_id,
            "seq": checkpoint.seq, "hash": checkpoint.hash,
            "signed_at": checkpoint.signed_at.isoformat(), "key": checkpoint.key_id,
            "signature": checkpoint.signature}


def _publish(entry: dict) -> None:
    # One write() of one line under an exclusive lock: concurrent workers never interleave
    # lines, and fsync makes the line survive a crash right after the database commit.
    path = Path(settings.AUDIT_CHECKPOINT_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


@transaction.atomic
def audit_checkpoint_create(*, org) -> AuditCheckpoint | None:
    """Sign org's chain head now; None when the head has not moved since the last
    checkpoint (or the org has no events yet).

    Called by the system only (the beat task orgs.audit_checkpoint and `manage.py
    audit_checkpoint`), never by a member. Locks the chain head so no event lands while
    signing. Refuses (ChainBroken) to sign a head that does not extend the last checkpoint
    or whose events since then do not verify: a rewritten chain never gets a signature.
    Writes no AuditEvent: the checkpoint is itself the signed audit record, and an event
    per checkpoint would move the head every time, so an idle org would never be idle.
    The file line is written after commit, so a rolled-back checkpoint is never published.
    """
    key = signing.signing_key()
    if key is None:
        raise CheckpointsOff("AUDIT_SIGNING_KEY (or AUDIT_SIGNING_KEY_FILE) is not set")
    head = AuditChainHead.objects.for_org(org).select_for_update().first()
    last = AuditCheckpoint.objects.for_org(org).order_by("-seq").first()
    if head is None or head.seq == 0:
        return None
    if last and (last.seq, last.hash) == (head.seq, head.last_hash):
        return None
    since = {"after_seq": last.seq, "after_hash": last.hash} if last else {}
    problem, _ = chain_problem(org, **since)
    if problem:
        raise ChainBroken(problem)
    checkpoint = AuditCheckpoint(org=org, seq=head.seq, hash=head.last_hash,
                                 signed_at=timezone.now(),
                                 key_id=signing.key_id(key.public_key()))
    checkpoint.signature = signing.sign(_entry(checkpoint), key)
    checkpoint.save()
    entry = _entry(checkpoint)
    transaction.on_commit(lambda: _publish(entry))
    return checkpoint


def checkpoint_file_read(path) -> tuple[dict[int, list[dict]], list[str]]:
    """The checkpoint file's entries by org id, and a sentence per line that is not a
    checkpoint. A missing file is empty (verification then reports any checkpoint row)."""
    by_org, problems = {}, []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return by_org, problems
    for number, line in enumerate(lines, start=1):
        try:
            entry = json.loads(line)
            by_org.setdefault(int(entry["org"]), []).append(entry)
        except (ValueError, KeyError, TypeError):
            problems.append(f"line {number} of the checkpoint file is not a checkpoint")
    return by_org, problems


def _identity(entry: dict) -> str:
    # Everything signed plus the signature, as one comparable string: a set of these
    # matches rows with file lines in linear time (a checkpoint every 15 minutes is
    # 35,000 a year per org).
    return json.dumps([entry.get(k) for k in (*signing.SIGNED_FIELDS, "signature")])


def _compare(org, keys: dict, file_entries: list[dict]) -> tuple[list[str], list[dict]]:
    """Org's checkpoint rows against its checkpoint file lines: (a sentence per bad
    signature, row missing from the file or line missing from the database; the validly
    signed checkpoints of both, once each, oldest first)."""
    rows = [_entry(c) for c in AuditCheckpoint.objects.for_org(org).order_by("seq")]
    problems, signed = [], {}
    for where, entries, others in (("database", rows, file_entries),
                                   ("checkpoint file", file_entries, rows)):
        missing_from = "checkpoint file" if where == "database" else "database"
        present = {_identity(other) for other in others}
        for entry in entries:
            if not signing.signature_valid(entry, keys):
                problems.append(f"the checkpoint at #{entry.get('seq')} in the {where} has no "
                                "valid signature by a trusted key (forged or altered)")
                continue
            signed[entry["signature"]] = entry
            if _identity(entry) not in present:
                problems.append(f"the checkpoint at #{entry['seq']} signed at "
                                f"{entry['signed_at']} is missing from the {missing_from}")
    return problems, sorted(signed.values(), key=lambda e: e["seq"])


def _heads_held(org, signed: list[dict], hashes: dict[int, str]) -> list[str]:
    """A sentence per signed head the chain no longer holds (cut, or rewritten)."""
    head = AuditChainHead.objects.for_org(org).first()
    top = head.seq if head else 0
    problems = []
    for entry in signed:
        if entry["seq"] > top:
            problems.append(f"the chain was cut: the checkpoint signed at {entry['signed_at']} "
                            f"covers event #{entry['seq']} but the chain ends at #{top}")
        elif hashes.get(entry["seq"]) != entry["hash"]:
            problems.append(f"event #{entry['seq']} differs from the checkpoint signed at "
                            f"{entry['signed_at']}: the chain up to it was rewritten")
    return problems


def trusted_keys() -> dict:
    """{key id: public key} of the configured signing key; empty when none is set."""
    key = signing.signing_key()
    return {signing.key_id(key.public_key()): key.public_key()} if key else {}


def audit_problems(org, *, keys: dict | None = None, file_entries: list[dict] | None = None,
                   file_problems: tuple = ()) -> list[str]:
    """Everything wrong with org's audit log, first the chain's first break, then the
    checkpoints. keys defaults to the configured key's public half; with no key at all
    only the chain is checked (the command refuses that unless told). file_entries
    defaults to org's lines of settings.AUDIT_CHECKPOINT_FILE. Read-only; system only."""
    keys = trusted_keys() if keys is None else keys
    if not keys:
        problem, _ = chain_problem(org)
        return [problem] if problem else []
    if file_entries is None:
        by_org, file_problems = checkpoint_file_read(settings.AUDIT_CHECKPOINT_FILE)
        file_entries = by_org.get(org.pk, [])
    problems, signed = _compare(org, keys, file_entries)
    problem, hashes = chain_problem(org, keep=frozenset(e["seq"] for e in signed))
    return ([problem] if problem else []) + list(file_problems) + problems \
        + _heads_held(org, signed, hashes)


def verify_chain(org) -> str | None:
    """The first problem of org's audit log (audit_problems with the configured key and
    checkpoint file), or None when the chain and its checkpoints verify."""
    problems = audit_problems(org)
    return problems[0] if problems else None
