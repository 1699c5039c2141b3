"""The tamper-evident audit chain of a case.

Events are numbered 1, 2, 3… per case; each carries the SHA-256 of the previous event and its
own hash over the canonical encoding of (case id, seq, type, at, data, prev hash). The case
record keeps the head (seq and hash), written in the same transaction as each event, so a
truncated tail is detected as surely as an edit, a gap or a fork.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from aios.signing import digest

GENESIS = "0" * 64


class AuditEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    case_id: str
    seq: int
    type: str
    at: str
    data: dict[str, Any]
    prev_hash: str
    hash: str


class ChainVerdict(BaseModel):
    model_config = ConfigDict(frozen=True)

    valid: bool
    length: int
    head: str
    problem: str | None = None
    seq: int | None = None


def event_hash(case_id: str, seq: int, type_: str, at: str, data: dict[str, Any], prev: str) -> str:
    return digest(
        {"case_id": case_id, "seq": seq, "type": type_, "at": at, "data": data, "prev_hash": prev}
    )


def chain_events(
    case_id: str,
    head_seq: int,
    head_hash: str,
    events: Iterable[tuple[str, dict[str, Any]]],
    at: str,
) -> list[AuditEvent]:
    """Link new events after the given head."""
    chained: list[AuditEvent] = []
    seq, prev = head_seq, head_hash
    for type_, data in events:
        seq += 1
        h = event_hash(case_id, seq, type_, at, data, prev)
        chained.append(
            AuditEvent(
                case_id=case_id, seq=seq, type=type_, at=at, data=data, prev_hash=prev, hash=h
            )
        )
        prev = h
    return chained


def verify_chain(
    events: Sequence[AuditEvent], head_seq: int | None = None, head_hash: str | None = None
) -> ChainVerdict:
    """Check numbering, links and hashes, and (when given) that the chain ends at the head."""
    prev = GENESIS
    for expected_seq, event in enumerate(events, start=1):
        if event.seq != expected_seq:
            return _broken(
                events, f"expected event {expected_seq}, found {event.seq}", expected_seq
            )
        if event.prev_hash != prev:
            return _broken(events, f"event {event.seq} does not link to its predecessor", event.seq)
        recomputed = event_hash(
            event.case_id, event.seq, event.type, event.at, event.data, event.prev_hash
        )
        if recomputed != event.hash:
            return _broken(events, f"event {event.seq} was altered", event.seq)
        prev = event.hash
    if head_seq is not None and (head_seq != len(events) or head_hash != prev):
        return _broken(events, f"chain ends at {len(events)} but the case head is {head_seq}", None)
    return ChainVerdict(valid=True, length=len(events), head=prev)


def _broken(events: Sequence[AuditEvent], problem: str, seq: int | None) -> ChainVerdict:
    head = events[-1].hash if events else GENESIS
    return ChainVerdict(valid=False, length=len(events), head=head, problem=problem, seq=seq)
