"""The audit anchor: signed checkpoints of every audit chain's head, in S3 Object Lock.

The ledger is a mutable table: whoever may write it could rewrite a chain's events together
with its head, or delete a whole case, and the chain would still verify. A scheduled function
(`functions/audit_checkpoint`) therefore lists the chains whose heads moved since its last run
(the sparse `AuditPeriods` index, aios.ledger.chains), and stores their heads as one signed
checkpoint (`checkpoint`) in a COMPLIANCE-locked bucket (`store`), each naming its
predecessor's digest. `verify` checks a chain against every checkpoint that anchored it:
rewritten events, a deleted case or a tampered checkpoint are each detected.
"""

from aios.anchor.checkpoint import (
    AnchoredHead,
    Checkpoint,
    SignedCheckpoint,
    sign_checkpoint,
    verify_checkpoint,
)
from aios.anchor.checkpointer import take_checkpoint
from aios.anchor.store import latest, newest_first, object_key, put_checkpoint
from aios.anchor.verify import (
    ChainFinding,
    anchored_chains,
    check_chain,
    check_events,
    verified_checkpoints,
)

__all__ = [
    "AnchoredHead",
    "ChainFinding",
    "Checkpoint",
    "SignedCheckpoint",
    "anchored_chains",
    "check_chain",
    "check_events",
    "latest",
    "newest_first",
    "object_key",
    "put_checkpoint",
    "sign_checkpoint",
    "take_checkpoint",
    "verified_checkpoints",
    "verify_checkpoint",
]
