"""Reads and transactional writes of the ledger."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from aios.audit import GENESIS, AuditEvent, chain_events
from aios.errors import CaseNotFound, LedgerConflict
from aios.ledger.models import LedgerItem

CASE_SK = "CASE"
MAX_COMMIT_ATTEMPTS = 8
_connection: Connection | None = None


def _conn() -> Connection:
    global _connection
    if _connection is None:
        _connection = Connection()
    return _connection


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def case_pk(case_id: str) -> str:
    return f"CASE#{case_id}"


def action_sk(index: int) -> str:
    return f"ACTION#{index:03d}"


def audit_sk(seq: int) -> str:
    return f"AUDIT#{seq:010d}"


@dataclass(frozen=True)
class Put:
    """Create an item; fails the whole commit if it already exists unless `overwrite`."""

    item: LedgerItem
    overwrite: bool = False


@dataclass(frozen=True)
class Update:
    item: LedgerItem
    actions: list[Action]
    condition: Condition | None = None


@dataclass
class CaseRecord:
    case_id: str
    status: str
    data: dict[str, Any]
    seq: int
    head: str
    created_at: str
    updated_at: str
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_item(cls, item: LedgerItem) -> CaseRecord:
        return cls(
            case_id=item.pk.removeprefix("CASE#"),
            status=item.status or "",
            data=dict(item.data or {}),
            seq=int(item.seq or 0),
            head=item.head or GENESIS,
            created_at=item.created_at or "",
            updated_at=item.updated_at or "",
        )


def _audit_item(event: AuditEvent) -> LedgerItem:
    return LedgerItem(
        case_pk(event.case_id),
        audit_sk(event.seq),
        kind="audit",
        status=event.type,
        data=event.data,
        seq=event.seq,
        head=event.hash,
        prev_hash=event.prev_hash,
        created_at=event.at,
    )


def get_case(case_id: str) -> CaseRecord:
    try:
        return CaseRecord.from_item(LedgerItem.get(case_pk(case_id), CASE_SK, consistent_read=True))
    except DoesNotExist:
        raise CaseNotFound(f"no case {case_id!r}") from None


def get_action(case_id: str, index: int) -> LedgerItem | None:
    """The action at `index` of the case (a consistent read); None if it has none there."""
    try:
        return LedgerItem.get(case_pk(case_id), action_sk(index), consistent_read=True)
    except DoesNotExist:
        return None


def load_case_items(case_id: str) -> list[LedgerItem]:
    """Every item of the case in key order: actions, audit, case, plans."""
    return list(LedgerItem.query(case_pk(case_id), consistent_read=True))


def load_audit(case_id: str) -> list[AuditEvent]:
    return [
        AuditEvent(
            case_id=case_id,
            seq=int(item.seq or 0),
            type=item.status or "",
            at=item.created_at or "",
            data=dict(item.data or {}),
            prev_hash=item.prev_hash or "",
            hash=item.head or "",
        )
        for item in LedgerItem.query(
            case_pk(case_id), LedgerItem.sk.startswith("AUDIT#"), consistent_read=True
        )
    ]


def create_case(
    case_id: str, status: str, data: dict[str, Any], events: list[tuple[str, dict[str, Any]]]
) -> CaseRecord:
    """Write a new case with its first audit events; LedgerConflict if the case exists."""
    at = now_iso()
    chained = chain_events(case_id, 0, GENESIS, events, at)
    case = LedgerItem(
        case_pk(case_id),
        CASE_SK,
        kind="case",
        status=status,
        data=data,
        seq=chained[-1].seq,
        head=chained[-1].hash,
        created_at=at,
        updated_at=at,
    )
    try:
        with TransactWrite(connection=_conn()) as tw:
            tw.save(case, condition=LedgerItem.pk.does_not_exist())
            for event in chained:
                tw.save(_audit_item(event), condition=LedgerItem.pk.does_not_exist())
    except TransactWriteError as exc:
        raise LedgerConflict(f"case {case_id} already exists") from exc
    return CaseRecord.from_item(case)


def commit(
    case_id: str,
    events: list[tuple[str, dict[str, Any]]],
    *,
    ops: tuple[Put | Update, ...] = (),
    case_actions: Sequence[Action] | Callable[[CaseRecord], Sequence[Action]] = (),
    case_condition: Condition | None = None,
) -> list[AuditEvent]:
    """Apply `ops` and case changes with their audit events in one transaction.

    The audit head is compare-and-set on the case record, so two writers can never both
    append event n: the loser re-reads the head and retries. Any other failed condition
    raises LedgerConflict and nothing is written.
    """
    for _ in range(MAX_COMMIT_ATTEMPTS):
        case = get_case(case_id)
        at = now_iso()
        chained = chain_events(case_id, case.seq, case.head, events, at)
        head_condition = LedgerItem.seq == case.seq
        condition = head_condition if case_condition is None else head_condition & case_condition
        case_item = LedgerItem(case_pk(case_id), CASE_SK)
        extra = case_actions(case) if callable(case_actions) else case_actions
        try:
            with TransactWrite(connection=_conn()) as tw:
                tw.update(
                    case_item,
                    actions=[
                        LedgerItem.seq.set(chained[-1].seq),
                        LedgerItem.head.set(chained[-1].hash),
                        LedgerItem.updated_at.set(at),
                        *extra,
                    ],
                    condition=condition,
                )
                for op in ops:
                    if isinstance(op, Put):
                        tw.save(
                            op.item,
                            condition=None if op.overwrite else LedgerItem.pk.does_not_exist(),
                        )
                    else:
                        tw.update(op.item, actions=op.actions, condition=op.condition)
                for event in chained:
                    tw.save(_audit_item(event), condition=LedgerItem.pk.does_not_exist())
        except TransactWriteError as exc:
            reasons = exc.cancellation_reasons or []
            failed = [i for i, r in enumerate(reasons) if r is not None and r.code != "None"]
            if failed == [0] and get_case(case_id).seq != case.seq:
                continue
            raise LedgerConflict(
                f"ledger write for case {case_id} refused",
                failed_items=failed,
                reasons=[r.code if r else None for r in reasons],
            ) from exc
        return chained
    raise LedgerConflict(f"audit head of case {case_id} kept moving; gave up")
