"""The operators' control record and its own audit chain, in the ledger table.

| item              | pk        | sk               |
| ----------------- | --------- | ---------------- |
| revocations       | `CONTROL` | `REVOCATIONS`    |
| its audit events  | `CONTROL` | `AUDIT#<seq>`    |

The revocations are one item, so one consistent read answers "is anything of this action
revoked?". Every change to it appends its events to the control chain in the same
transaction, compare-and-set on the chain head kept on the item (as a case keeps its head):
no revocation or restoration happens without its audit record, and none is lost to a race.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from aios.audit import GENESIS, AuditEvent, chain_events
from aios.errors import LedgerConflict
from aios.ledger.models import LedgerItem
from aios.ledger.repository import _conn, audit_period, audit_sk, now_iso

CONTROL_PK = "CONTROL"
REVOCATIONS_SK = "REVOCATIONS"
CHAIN_ID = "control/revocations"
"""The chain's name in every event hash, so a control event can never pass for a case's."""
MAX_ATTEMPTS = 8

Events = list[tuple[str, dict[str, Any]]]
Change = Callable[[dict[str, Any]], tuple[dict[str, Any], Events] | None]
"""(state now) -> (new state, its events), or None when nothing is to change."""


@dataclass(frozen=True)
class ControlState:
    data: dict[str, Any]
    seq: int
    head: str


def load_control() -> ControlState:
    """The revocations and the chain head, read consistently (empty before the first change)."""
    try:
        item = LedgerItem.get(CONTROL_PK, REVOCATIONS_SK, consistent_read=True)
    except DoesNotExist:
        return ControlState(data={}, seq=0, head=GENESIS)
    return ControlState(data=dict(item.data or {}), seq=int(item.seq or 0), head=item.head or "")


def commit_control(change: Change) -> list[AuditEvent]:
    """Apply `change` to the control state with its audit events, in one transaction.

    The chain head is compare-and-set: a writer that lost the race re-reads and re-applies
    its change. Returns the events written (none when `change` had nothing to do).
    """
    for _ in range(MAX_ATTEMPTS):
        state = load_control()
        changed = change(dict(state.data))
        if changed is None:
            return []
        data, events = changed
        at = now_iso()
        chained = chain_events(CHAIN_ID, state.seq, state.head, events, at)
        record = LedgerItem(
            CONTROL_PK,
            REVOCATIONS_SK,
            kind="control",
            status="ACTIVE",
            data=data,
            seq=chained[-1].seq,
            head=chained[-1].hash,
            updated_at=at,
            audit_period=audit_period(at),
        )
        condition = (
            LedgerItem.pk.does_not_exist() if state.seq == 0 else LedgerItem.seq == state.seq
        )
        try:
            with TransactWrite(connection=_conn()) as tw:
                tw.save(record, condition=condition)
                for event in chained:
                    tw.save(_event_item(event), condition=LedgerItem.pk.does_not_exist())
        except TransactWriteError:
            if load_control().seq != state.seq:
                continue
            raise
        return chained
    raise LedgerConflict("the control chain head kept moving; gave up")


def load_control_audit() -> list[AuditEvent]:
    """The control chain's events in order."""
    return [
        AuditEvent(
            case_id=CHAIN_ID,
            seq=int(item.seq or 0),
            type=item.status or "",
            at=item.created_at or "",
            data=dict(item.data or {}),
            prev_hash=item.prev_hash or "",
            hash=item.head or "",
        )
        for item in LedgerItem.query(
            CONTROL_PK, LedgerItem.sk.startswith("AUDIT#"), consistent_read=True
        )
    ]


def _event_item(event: AuditEvent) -> LedgerItem:
    return LedgerItem(
        CONTROL_PK,
        audit_sk(event.seq),
        kind="audit",
        status=event.type,
        data=event.data,
        seq=event.seq,
        head=event.hash,
        prev_hash=event.prev_hash,
        created_at=event.at,
    )
