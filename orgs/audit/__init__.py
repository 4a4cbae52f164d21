"""The audit log: AuditEvent, its per-org hash chain, record_event(), signed checkpoints.

Read docs/audit-log.md first. models.py holds the tables, chain.py appends and walks the
chain, signing.py the Ed25519 key and signed payload, checkpoints.py signs, publishes
and verifies checkpoints. Other modules import from here.
"""

from orgs.audit.chain import chain_problem, diff, record_event
from orgs.audit.checkpoints import (
    ChainBroken,
    CheckpointsOff,
    audit_checkpoint_create,
    audit_problems,
    checkpoint_file_read,
    verify_chain,
)
from orgs.audit.models import (
    GENESIS_HASH,
    HASHED_FIELDS,
    AppendOnlyError,
    AuditChainHead,
    AuditCheckpoint,
    AuditEvent,
)

__all__ = [
    "GENESIS_HASH", "HASHED_FIELDS", "AppendOnlyError", "AuditChainHead", "AuditCheckpoint",
    "AuditEvent", "ChainBroken", "CheckpointsOff", "audit_checkpoint_create", "audit_problems",
    "chain_problem", "checkpoint_file_read", "diff", "record_event", "verify_chain",
]
