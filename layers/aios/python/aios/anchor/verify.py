"""Check the ledger's audit chains against the signed checkpoints.

A chain that verifies on its own can still have been rewritten together with its head, or
deleted whole: the table is mutable. A checkpoint is not (S3 Object Lock, signed), so a chain
is sound only if, for every checkpoint that anchored it, its event at the anchored sequence
number hashes to the anchored head. The checkpoints are checked first: each signed by a trusted
key and each naming its predecessor's digest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict

from aios.anchor.checkpoint import (
    AnchoredHead,
    Checkpoint,
    SignedCheckpoint,
    verify_checkpoint,
    verify_succession,
)
from aios.audit import AuditEvent, verify_chain
from aios.errors import CheckpointInvalid
from aios.ledger.chains import ChainHead, load_chain
from aios.signing import PublicKeyCache


class ChainFinding(BaseModel):
    """What the ledger and the checkpoints say about one chain."""

    model_config = ConfigDict(frozen=True)

    pk: str
    valid: bool
    length: int
    anchored_in: list[int]
    """The sequence numbers of the checkpoints that anchored it (newest first)."""
    problem: str | None = None
    missing: bool = False
    """Neither head nor events in the ledger."""


def verified_checkpoints(
    stored: Iterable[SignedCheckpoint],
    keys: PublicKeyCache,
    trusted_key_ids: set[str],
    limit: int | None = None,
) -> list[Checkpoint]:
    """The checkpoints newest first, each signature and link checked (at most `limit`; the
    oldest one read must then be the first checkpoint only when all were read).

    CheckpointInvalid at the first one that is unsigned, altered, or out of the chain.
    """
    out: list[Checkpoint] = []
    for signed in stored:
        verify_checkpoint(signed, keys, trusted_key_ids)
        if out:
            verify_succession(out[-1], signed.checkpoint)
        out.append(signed.checkpoint)
        if limit is not None and len(out) >= limit:
            return out
    if out:
        verify_succession(out[-1], None)
    return out


def check_events(
    pk: str,
    head: ChainHead | None,
    events: Sequence[AuditEvent],
    checkpoints: Sequence[Checkpoint],
) -> ChainFinding:
    """One chain (as loaded) against every checkpoint that anchored it."""
    anchors = [(c.sequence, a) for c in checkpoints if (a := c.head_of(pk)) is not None]
    anchored_in = [sequence for sequence, _ in anchors]

    def broken(problem: str, missing: bool = False) -> ChainFinding:
        return ChainFinding(
            pk=pk,
            valid=False,
            length=len(events),
            anchored_in=anchored_in,
            problem=problem,
            missing=missing,
        )

    if head is None and not events:
        if anchors:
            sequence, anchored = anchors[0]
            return broken(
                f"deleted: checkpoint {sequence} anchored it at event {anchored.seq}, "
                "the ledger holds nothing of it",
                missing=True,
            )
        return broken("no such chain in the ledger or in any checkpoint", missing=True)
    if head is None:
        return broken("its head item is gone")
    verdict = verify_chain(events, head.seq, head.head)
    if not verdict.valid:
        where = f" at seq {verdict.seq}" if verdict.seq is not None else ""
        return broken(f"chain broken{where}: {verdict.problem}")
    for sequence, anchored in anchors:
        problem = _against(events, anchored)
        if problem:
            return broken(f"{problem} (checkpoint {sequence})")
    return ChainFinding(pk=pk, valid=True, length=len(events), anchored_in=anchored_in)


def _against(events: Sequence[AuditEvent], anchored: AnchoredHead) -> str | None:
    if anchored.seq > len(events):
        return f"truncated: {len(events)} events, the checkpoint anchored event {anchored.seq}"
    if events[anchored.seq - 1].hash != anchored.head:
        return f"rewritten: event {anchored.seq} no longer hashes to the anchored head"
    return None


def check_chain(pk: str, checkpoints: Sequence[Checkpoint]) -> ChainFinding:
    """Load one chain from the ledger and check it against the checkpoints."""
    head, events = load_chain(pk)
    return check_events(pk, head, events, checkpoints)


def anchored_chains(checkpoints: Sequence[Checkpoint]) -> list[str]:
    """Every chain (its pk) the checkpoints anchor, in key order."""
    return sorted({h.pk for c in checkpoints for h in c.heads})


__all__ = [
    "ChainFinding",
    "CheckpointInvalid",
    "anchored_chains",
    "check_chain",
    "check_events",
    "verified_checkpoints",
]
