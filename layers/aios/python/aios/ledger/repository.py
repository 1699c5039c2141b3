"""Reads and transactional writes of the ledger's case items.

Writes are ops (`Put`, `Update`) staged by the `stage_*` functions and applied by `commit` or
`transition_case`, in one transaction with the case's audit events.
"""

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
HANDOFF_SK = "HANDOFF"
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


def plan_sk(plan_id: str) -> str:
    return f"PLAN#{plan_id}"


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
    """The case's action item at `index`, read consistently; None when absent."""
    try:
        return LedgerItem.get(case_pk(case_id), action_sk(index), consistent_read=True)
    except DoesNotExist:
        return None


def action_status_update(
    case_id: str,
    index: int,
    status: str,
    *,
    allowed_from: Sequence[str],
    result: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
) -> Update:
    """A commit op moving an action to `status`, only from one of `allowed_from`."""
    actions: list[Action] = [
        LedgerItem.status.set(status),
        LedgerItem.updated_at.set(now_iso()),
    ]
    if result is not None:
        actions.append(LedgerItem.result.set(result))
    if error is not None:
        actions.append(LedgerItem.error.set(error))
    return Update(
        LedgerItem(case_pk(case_id), action_sk(index)),
        actions=actions,
        condition=LedgerItem.status.is_in(*allowed_from),
    )


def put_rejection(message_id: str, reason: dict[str, Any], body: str) -> None:
    """An orphan rejection: a refused queue message that names no case the ledger holds."""
    at = now_iso()
    LedgerItem(
        f"REJECTION#{message_id}",
        "REJECTION",
        kind="rejection",
        status="REJECTED",
        data={"reason": reason, "body": body},
        created_at=at,
        updated_at=at,
    ).save()


def load_case_items(case_id: str) -> list[LedgerItem]:
    """Every item of the case in key order: actions, approvals, audit, case, handoff, plans."""
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


def transition_case(
    case_id: str,
    events: list[tuple[str, dict[str, Any]]],
    *,
    to_status: str,
    from_statuses: Sequence[str],
    data: Callable[[CaseRecord], dict[str, Any]] | None = None,
    ops: tuple[Put | Update, ...] = (),
) -> list[AuditEvent]:
    """Move the case from one of `from_statuses` to `to_status` with its audit events and `ops`.

    One transaction (see `commit`): when the case is in another status, LedgerConflict is
    raised and nothing is written. `data`, given the case as it is, returns its new data.
    """

    def changes(case: CaseRecord) -> list[Action]:
        actions: list[Action] = [LedgerItem.status.set(to_status)]
        if data is not None:
            actions.append(LedgerItem.data.set(data(case)))
        return actions

    return commit(
        case_id,
        events,
        ops=ops,
        case_actions=changes,
        case_condition=LedgerItem.status.is_in(*from_statuses),
    )


def _new_item(case_id: str, sk: str, kind: str, status: str, data: dict[str, Any], at: str) -> Put:
    return Put(
        LedgerItem(
            case_pk(case_id),
            sk,
            kind=kind,
            status=status,
            data=data,
            created_at=at,
            updated_at=at,
        )
    )


def stage_plan(case_id: str, plan_id: str, status: str, data: dict[str, Any], at: str) -> Put:
    """A new plan item; the commit fails if the plan exists."""
    return _new_item(case_id, plan_sk(plan_id), "plan", status, data, at)


def stage_action(case_id: str, index: int, status: str, data: dict[str, Any], at: str) -> Put:
    """A new action item at `index`; the commit fails if the case already has that action."""
    return _new_item(case_id, action_sk(index), "action", status, data, at)


def stage_handoff(case_id: str, reason: str, data: dict[str, Any], at: str) -> Put:
    """The case's handoff item (one per case); the commit fails if the case has one."""
    return _new_item(case_id, HANDOFF_SK, "handoff", reason, data, at)


def stage_status(item: LedgerItem, status: str, at: str) -> Update:
    """Set `item`'s status, compare-and-set on the status it was read with."""
    return Update(
        LedgerItem(item.pk, item.sk),
        actions=[LedgerItem.status.set(status), LedgerItem.updated_at.set(at)],
        condition=LedgerItem.status == item.status,
    )
