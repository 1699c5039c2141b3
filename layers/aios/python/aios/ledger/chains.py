"""Every audit chain of the ledger, read the same way: cases, the control chain, orphan
rejections.

| chain              | pk                   | head item sk  | name in the event hash   |
| ------------------ | -------------------- | ------------- | ------------------------ |
| a case             | `CASE#<case_id>`     | `CASE`        | `<case_id>`              |
| the control record | `CONTROL`            | `REVOCATIONS` | `control/revocations`    |
| an orphan rejection| `REJECTION#<msg id>` | `REJECTION`   | `rejection/<msg id>`     |

Events are `AUDIT#<seq>` items under the chain's pk. A head item carries `audit_period`, the
UTC hour its head last moved, written in the transaction that moves it and only when the hour
changes: the sparse, keys-only `AuditPeriods` index lists the chains touched in an hour, so
the audit checkpointer reads what moved without a scan and no write pays for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pynamodb.exceptions import DoesNotExist

from aios.audit import AuditEvent
from aios.ledger.control import CHAIN_ID, CONTROL_PK, REVOCATIONS_SK
from aios.ledger.models import LedgerItem
from aios.ledger.repository import CASE_SK, rejection_chain_id

BATCH = 100  # BatchGetItem's limit


@dataclass(frozen=True)
class ChainHead:
    """Where a chain is and where its head stands."""

    pk: str
    chain: str
    seq: int
    head: str


def head_sk(pk: str) -> str:
    """The sort key of the item that holds the chain's head; ValueError for no chain."""
    if pk.startswith("CASE#"):
        return CASE_SK
    if pk == CONTROL_PK:
        return REVOCATIONS_SK
    if pk.startswith("REJECTION#"):
        return "REJECTION"
    raise ValueError(f"no audit chain lives under {pk!r}")


def chain_name(pk: str) -> str:
    """The chain's name in its event hashes (the `case_id` of its events)."""
    if pk.startswith("CASE#"):
        return pk.removeprefix("CASE#")
    if pk == CONTROL_PK:
        return CHAIN_ID
    if pk.startswith("REJECTION#"):
        return rejection_chain_id(pk.removeprefix("REJECTION#"))
    raise ValueError(f"no audit chain lives under {pk!r}")


def hours(since: datetime, until: datetime) -> list[str]:
    """The `audit_period` keys of every UTC hour from `since`'s to `until`'s, both included."""
    start = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    end = until.astimezone(UTC)
    out = []
    while start <= end:
        out.append(start.strftime("%Y-%m-%dT%H"))
        start += timedelta(hours=1)
    return out


def touched_heads(periods: Iterable[str]) -> list[ChainHead]:
    """The heads, read consistently now, of every chain whose head moved in one of `periods`
    (a head that moved again since is listed under its newest hour, so pass every hour since
    the last look). One index Query per hour, one BatchGetItem per 100 chains."""
    keys = sorted(
        {
            (item.pk, item.sk)
            for period in periods
            for item in LedgerItem.audit_periods.query(period)
        }
    )
    heads: list[ChainHead] = []
    for start in range(0, len(keys), BATCH):
        batch = keys[start : start + BATCH]
        for item in LedgerItem.batch_get(
            batch, consistent_read=True, attributes_to_get=["pk", "sk", "seq", "head"]
        ):
            heads.append(ChainHead(item.pk, chain_name(item.pk), int(item.seq or 0), item.head))
    return sorted(heads, key=lambda h: h.pk)


def load_chain(pk: str) -> tuple[ChainHead | None, list[AuditEvent]]:
    """The chain's head (None when its head item is gone) and its events in order."""
    name = chain_name(pk)
    try:
        item = LedgerItem.get(pk, head_sk(pk), consistent_read=True)
        head: ChainHead | None = ChainHead(pk, name, int(item.seq or 0), item.head or "")
    except DoesNotExist:
        head = None
    events = [
        AuditEvent(
            case_id=name,
            seq=int(event.seq or 0),
            type=event.status or "",
            at=event.created_at or "",
            data=dict(event.data or {}),
            prev_hash=event.prev_hash or "",
            hash=event.head or "",
        )
        for event in LedgerItem.query(pk, LedgerItem.sk.startswith("AUDIT#"), consistent_read=True)
    ]
    return head, events
