"""Reads and transactional writes of the ledger's case items.

Writes are ops (`Put`, `Update`) staged by the `stage_*` functions and applied by `commit` or
`transition_case`, in one transaction with the case's audit events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.operand import Path, Value
from pynamodb.expressions.update import Action, SetAction
from pynamodb.transactions import TransactWrite

from aios.audit import GENESIS, AuditEvent, chain_events
from aios.errors import CaseNotFound, LedgerConflict
from aios.ledger.models import LedgerItem
from aios.signing import sha256_hex

CASE_SK = "CASE"
HANDOFF_SK = "HANDOFF"
MAX_COMMIT_ATTEMPTS = 8
QUEUES: dict[tuple[str, str], str] = {
    ("CASE", "HANDED_OFF"): "handoffs",
    ("CASE", "FAILED"): "failed",
    ("APPROVAL", "PENDING"): "approvals",
    ("ACTION", "REJECTED"): "rejections",
    ("REJECTION", "REJECTED"): "rejections",
}
"""Which items the operator queues list, by (key prefix, status): the `Queues` index is kept in
step by every write that sets a status here (see `_queue_actions`), so no caller can forget."""
_connection: Connection | None = None


def _conn() -> Connection:
    global _connection
    if _connection is None:
        _connection = Connection()
    return _connection


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def audit_period(at: str) -> str:
    """The UTC hour (`YYYY-MM-DDTHH`) of a ledger timestamp: the key of the `AuditPeriods`
    index a chain head carries (see aios.ledger.chains)."""
    return at[:13]


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


def queue_for(sk: str, status: str | None) -> str | None:
    """The operator queue an item with this key and status belongs to, if any."""
    return QUEUES.get((sk.split("#", 1)[0], status or ""))


def _assigned_status(actions: Sequence[Action]) -> str | None:
    """The status an update sets, if it sets one (a `LedgerItem.status.set(...)` action)."""
    for action in actions:
        if isinstance(action, SetAction):
            path, value = action.values[0], action.values[1]
            if isinstance(path, Path) and path.path == ["status"] and isinstance(value, Value):
                return str(value.value.get("S"))
    return None


def _queue_actions(sk: str, actions: Sequence[Action], at: str) -> list[Action]:
    """Keep the item's `queue` in step with the status `actions` set: set it (with the time it
    entered, kept while it stays) when the status is listed, remove it when it is not."""
    status = _assigned_status(actions)
    if status is None:
        return []
    queue = queue_for(sk, status)
    if queue is None:
        return [LedgerItem.queue.remove(), LedgerItem.queued_at.remove()]
    return [LedgerItem.queue.set(queue), LedgerItem.queued_at.set(LedgerItem.queued_at | at)]


def _queued(item: LedgerItem, at: str) -> LedgerItem:
    """A new item enters its queue when its status is listed."""
    queue = queue_for(item.sk, item.status)
    if queue is not None:
        item.queue, item.queued_at = queue, at
    return item


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
    holder: str | None = None
    """Who holds the case while it is handed off (see `aios.ledger.handoffs`)."""
    audit_period: str | None = None
    """The hour its audit head last moved (the `AuditPeriods` index key)."""

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
            holder=item.holder,
            audit_period=item.audit_period,
        )


def _audit_item(event: AuditEvent, pk: str | None = None) -> LedgerItem:
    return LedgerItem(
        pk or case_pk(event.case_id),
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


REJECTION_EVENT = "message.rejected"


def rejection_chain_id(message_id: str) -> str:
    """The chain name of an orphan rejection in its event hash: never a case id."""
    return f"rejection/{message_id}"


def put_rejection(message_id: str, reason: dict[str, Any], body: str) -> None:
    """An orphan rejection: a refused queue message that names no case the ledger holds.

    It is an audit chain of its own (one event, under `REJECTION#<message id>`, the rejection
    item its head), written in one transaction, so audit checkpoints anchor it like a case.
    A redelivery of the same message finds it recorded and writes nothing.
    """
    at = now_iso()
    event_data = {
        "message_id": message_id,
        "reason": reason,
        "body_sha256": sha256_hex(body.encode()),
    }
    [event] = chain_events(
        rejection_chain_id(message_id), 0, GENESIS, [(REJECTION_EVENT, event_data)], at
    )
    pk = f"REJECTION#{message_id}"
    item = LedgerItem(
        pk,
        "REJECTION",
        kind="rejection",
        status="REJECTED",
        data={"reason": reason, "body": body},
        seq=event.seq,
        head=event.hash,
        created_at=at,
        updated_at=at,
        audit_period=audit_period(at),
    )
    event_item = _audit_item(event, pk)
    try:
        with TransactWrite(connection=_conn()) as tw:
            tw.save(_queued(item, at), condition=LedgerItem.pk.does_not_exist())
            tw.save(event_item, condition=LedgerItem.pk.does_not_exist())
    except TransactWriteError as exc:
        if LedgerItem.count(pk, LedgerItem.sk == "REJECTION", consistent_read=True):
            return
        raise LedgerConflict(f"rejection of message {message_id} not recorded") from exc


def load_case_items(case_id: str) -> list[LedgerItem]:
    """Every item of the case in key order: actions, approvals, audit, case, handoff, plans."""
    return list(LedgerItem.query(case_pk(case_id), consistent_read=True))


def load_plans(case_id: str) -> list[LedgerItem]:
    """The case's plans in the order they were made (p1, p2, ...)."""
    plans = LedgerItem.query(
        case_pk(case_id), LedgerItem.sk.startswith("PLAN#"), consistent_read=True
    )

    def round_of(item: LedgerItem) -> int:
        suffix = item.sk.rsplit(".p", 1)[-1]
        return int(suffix) if suffix.isdigit() else 0

    return sorted(plans, key=round_of)


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
        process=str(data["process"]) if data.get("process") else None,
        audit_period=audit_period(at),
    )
    try:
        with TransactWrite(connection=_conn()) as tw:
            tw.save(_queued(case, at), condition=LedgerItem.pk.does_not_exist())
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
        extra = list(case_actions(case) if callable(case_actions) else case_actions)
        try:
            with TransactWrite(connection=_conn()) as tw:
                tw.update(
                    case_item,
                    actions=[
                        LedgerItem.seq.set(chained[-1].seq),
                        LedgerItem.head.set(chained[-1].hash),
                        LedgerItem.updated_at.set(at),
                        *extra,
                        *_queue_actions(CASE_SK, extra, at),
                        *_period_actions(case, at),
                    ],
                    condition=condition,
                )
                for op in ops:
                    if isinstance(op, Put):
                        tw.save(
                            _queued(op.item, at),
                            condition=None if op.overwrite else LedgerItem.pk.does_not_exist(),
                        )
                    else:
                        actions = [*op.actions, *_queue_actions(op.item.sk, op.actions, at)]
                        tw.update(op.item, actions=actions, condition=op.condition)
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


def commit_ops(ops: Sequence[Put | Update]) -> None:
    """Apply `ops` in one transaction with no case and no audit event: what the execution
    plane on its own writes to its state table (entities, claims, applied records), whose
    case audit chains live in the decision account. LedgerConflict when a condition fails."""
    at = now_iso()
    try:
        with TransactWrite(connection=_conn()) as tw:
            for op in ops:
                if isinstance(op, Put):
                    tw.save(
                        op.item, condition=None if op.overwrite else LedgerItem.pk.does_not_exist()
                    )
                else:
                    tw.update(op.item, actions=list(op.actions), condition=op.condition)
    except TransactWriteError as exc:
        reasons = exc.cancellation_reasons or []
        raise LedgerConflict(
            f"state write refused at {at}",
            failed_items=[i for i, r in enumerate(reasons) if r is not None and r.code != "None"],
        ) from exc


def _period_actions(case: CaseRecord, at: str) -> list[Action]:
    """Move the head to this hour in the `AuditPeriods` index, only when the hour changed: a
    keys-only index costs no write while the key stays."""
    period = audit_period(at)
    return [] if case.audit_period == period else [LedgerItem.audit_period.set(period)]


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


def handoff_sk(handoff_id: str) -> str:
    return f"{HANDOFF_SK}#{handoff_id}"


def stage_handoff(case_id: str, handoff_id: str, data: dict[str, Any], at: str) -> Put:
    """A new handoff item (one per round that gave up), WAITING for a person; the commit fails
    if the case already has this handoff."""
    put = _new_item(case_id, handoff_sk(handoff_id), "handoff", "WAITING", data, at)
    put.item.seq = 0  # the handoff's version: moves compare-and-set on it
    return put


def stage_finding(case_id: str, kind: str, subject: str, data: dict[str, Any], at: str) -> Put:
    """A reconciler finding, recorded once per (case, kind, subject): a second commit of the
    same finding fails with LedgerConflict and writes nothing."""
    return _new_item(case_id, f"FINDING#{kind}#{subject}", "finding", kind, data, at)


@dataclass(frozen=True)
class CaseRef:
    """A case as the `ByProcess` index holds it."""

    case_id: str
    process: str
    status: str
    created_at: str
    updated_at: str


def iso(moment: datetime) -> str:
    """A timestamp as the ledger writes it (UTC, milliseconds), so strings compare in order."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def cases_by_process(process: str, since: datetime, until: datetime) -> Iterator[CaseRef]:
    """The process's cases created in [since, until), oldest first (the sparse index; cases
    written before the index existed carry no `process` attribute and are not listed)."""
    low, high = iso(since), iso(until)
    for item in LedgerItem.by_process.query(process, LedgerItem.created_at.between(low, high)):
        if item.created_at is None or item.created_at >= high:
            continue
        yield CaseRef(
            case_id=item.pk.removeprefix("CASE#"),
            process=process,
            status=item.status or "",
            created_at=item.created_at,
            updated_at=item.updated_at or item.created_at,
        )


def stage_status(item: LedgerItem, status: str, at: str) -> Update:
    """Set `item`'s status, compare-and-set on the status it was read with."""
    return Update(
        LedgerItem(item.pk, item.sk),
        actions=[LedgerItem.status.set(status), LedgerItem.updated_at.set(at)],
        condition=LedgerItem.status == item.status,
    )
