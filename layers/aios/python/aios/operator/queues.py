"""The operator queues: handed-off cases, pending approvals, failed cases, rejections.

Each queue is one partition of the ledger's sparse `Queues` index (keys only), ordered by when
the item entered it; the items themselves are then read in consistent batches, so an entry
is never older than the ledger. The index lags the table by a moment: an item that left its
queue meanwhile is dropped here. A process filter is applied to the items read.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import islice
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from aios.ledger import LedgerItem, get_items, handoff_sk, queue_for, queued

QueueKind = Literal["handoffs", "approvals", "failed", "rejections"]
KINDS: tuple[QueueKind, ...] = ("handoffs", "approvals", "failed", "rejections")
PAGE = 100
CASE_SK = "CASE"


class QueueEntry(BaseModel):
    """One line of a queue."""

    model_config = ConfigDict(frozen=True)

    kind: QueueKind
    case_id: str | None
    """None for a rejected message that named no case the ledger holds."""
    process: str | None = None
    tenant: str | None = None
    status: str
    reason: str | None = None
    detail: str | None = None
    age_seconds: float
    """Since the item entered the queue."""
    sla_seconds: int | None = None
    """The handoff's SLA, or the approval level's timeout."""
    overdue: bool = False
    holder: str | None = None
    created_at: str
    approval_id: str | None = None
    action_id: str | None = None
    message_id: str | None = None
    code: str | None = None
    message: str | None = None


def _age(since: str, now: datetime) -> float:
    try:
        return max(0.0, (now - datetime.fromisoformat(since)).total_seconds())
    except ValueError:
        return 0.0


def _chunks(keys: Iterator[tuple[str, str, str]]) -> Iterator[list[tuple[str, str, str]]]:
    while chunk := list(islice(keys, PAGE)):
        yield chunk


def list_queue(
    kind: QueueKind,
    *,
    process: str | None = None,
    oldest_first: bool = True,
    limit: int = 200,
) -> list[QueueEntry]:
    """The queue's entries, oldest (or newest) first, at most `limit`, of `process` if given."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    now = datetime.now(UTC)
    entries: list[QueueEntry] = []
    for chunk in _chunks(queued(kind, oldest_first=oldest_first)):
        items = get_items((pk, sk) for pk, sk, _ in chunk)
        cases = get_items((pk, CASE_SK) for pk, _, _ in chunk if pk.startswith("CASE#"))
        extra = _handoff_items(kind, items)
        for pk, sk, queued_at in chunk:
            item = items.get((pk, sk))
            if item is None or queue_for(item.sk, item.status) != kind:
                continue  # left the queue since the index saw it
            case = cases.get((pk, CASE_SK))
            entry = _entry(kind, item, case, extra, _age(queued_at, now))
            if process is None or entry.process == process:
                entries.append(entry)
            if len(entries) >= limit:
                return entries
    return entries


def _handoff_items(
    kind: QueueKind, items: dict[tuple[str, str], LedgerItem]
) -> dict[tuple[str, str], LedgerItem]:
    """The current handoff item of each handed-off case (for its SLA and reason)."""
    if kind != "handoffs":
        return {}
    keys = [
        (pk, handoff_sk(str(((i.data or {}).get("handoff") or {}).get("handoff_id"))))
        for (pk, _), i in items.items()
        if ((i.data or {}).get("handoff") or {}).get("handoff_id")
    ]
    return get_items(keys)


def _entry(
    kind: QueueKind,
    item: LedgerItem,
    case: LedgerItem | None,
    handoffs: dict[tuple[str, str], LedgerItem],
    age: float,
) -> QueueEntry:
    case_data = dict((case.data if case else None) or {})
    common: dict[str, Any] = {
        "kind": kind,
        "case_id": case.pk.removeprefix("CASE#") if case else None,
        "process": case_data.get("process"),
        "tenant": case_data.get("tenant"),
        "status": item.status or "",
        "age_seconds": round(age, 3),
        "created_at": (case.created_at if case else item.created_at) or "",
    }
    data = dict(item.data or {})
    if kind == "handoffs":
        handoff = dict(data.get("handoff") or {})
        sk = handoff_sk(str(handoff.get("handoff_id")))
        found = handoffs.get((item.pk, sk))
        record = dict((found.data if found else None) or {})
        sla = (record.get("handoff") or {}).get("sla_seconds")
        return QueueEntry(
            **common,
            reason=handoff.get("reason"),
            detail=handoff.get("detail"),
            sla_seconds=sla,
            overdue=sla is not None and age > float(sla),
            holder=item.holder,
        )
    if kind == "approvals":
        timeout = data.get("timeout_seconds")
        return QueueEntry(
            **common,
            reason=f"approval rule {data.get('rule')}",
            sla_seconds=timeout,
            overdue=timeout is not None and age > float(timeout),
            approval_id=data.get("approval_id"),
            action_id=data.get("action_id"),
        )
    if kind == "failed":
        error = dict(case_data.get("error") or {})
        cause = error.get("cause")
        return QueueEntry(
            **common,
            reason=error.get("error"),
            message=cause if isinstance(cause, str) else _text(cause),
        )
    return _rejection(common, item)


def _rejection(common: dict[str, Any], item: LedgerItem) -> QueueEntry:
    if item.kind == "rejection":
        reason = dict((item.data or {}).get("reason") or {})
        message_id = item.pk.removeprefix("REJECTION#")
        return QueueEntry(
            **{**common, "created_at": item.created_at or ""},
            reason=reason.get("code"),
            code=reason.get("code"),
            message=reason.get("message"),
            message_id=message_id,
        )
    error = dict(item.error or {})
    return QueueEntry(
        **common,
        reason=error.get("code"),
        code=error.get("code"),
        message=error.get("message"),
        action_id=(item.data or {}).get("action_id"),
    )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return str(value.get("message") or value)
    return str(value)


__all__ = ["KINDS", "QueueEntry", "QueueKind", "list_queue"]
