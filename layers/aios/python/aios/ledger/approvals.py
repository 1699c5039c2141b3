"""Approval items of the ledger: reads, the first write, and compare-and-set updates.

An approval sits in its case's partition at `APPROVAL#<approval id>`. Its `seq` is the record's
version: every update names the version it read and fails with LedgerConflict if another
writer moved it since. The item's `data` is the approval record (see `aios.approvals.records`);
this module stores it as given and knows nothing of its fields.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from aios.errors import LedgerConflict
from aios.ledger.models import LedgerItem
from aios.ledger.repository import (
    CaseRecord,
    Put,
    Update,
    action_sk,
    case_pk,
    commit,
    now_iso,
)

KIND = "approval"
CaseMove = tuple[str, str]
"""(from, to): the case's status becomes `to` in the same transaction if it is `from`."""


def approval_sk(approval_id: str) -> str:
    return f"APPROVAL#{approval_id}"


@dataclass(frozen=True)
class ActionChange:
    """What settling an approval does to its action, written only while it is PROPOSED."""

    index: int
    status: str
    data: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


def get_approval(case_id: str, approval_id: str) -> LedgerItem | None:
    """The approval item (a consistent read); None if the case has no such approval."""
    try:
        return LedgerItem.get(case_pk(case_id), approval_sk(approval_id), consistent_read=True)
    except LedgerItem.DoesNotExist:
        return None


def scan_approvals(status: str) -> list[LedgerItem]:
    """Every approval item in `status` (a filtered scan: approvals are few and short-lived)."""
    return list(LedgerItem.scan((LedgerItem.kind == KIND) & (LedgerItem.status == status)))


def create_approval(
    case_id: str,
    approval_id: str,
    data: dict[str, Any],
    status: str,
    events: list[tuple[str, dict[str, Any]]],
    case_move: CaseMove | None = None,
) -> None:
    """Write a new approval (version 0) with its audit events; LedgerConflict if it exists."""
    at = now_iso()
    item = LedgerItem(
        case_pk(case_id),
        approval_sk(approval_id),
        kind=KIND,
        status=status,
        data=data,
        seq=0,
        created_at=at,
        updated_at=at,
    )
    commit(case_id, events, ops=(Put(item),), case_actions=_move(case_move))


def update_approval(
    case_id: str, approval_id: str, data: dict[str, Any], status: str, version: int
) -> None:
    """Replace the record if it is still at `version` (no audit event); LedgerConflict if not."""
    try:
        LedgerItem(case_pk(case_id), approval_sk(approval_id)).update(
            actions=_record_actions(data, status, version),
            condition=LedgerItem.seq == version,
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        raise LedgerConflict(f"approval {approval_id} changed since version {version}") from exc


def commit_approval(
    case_id: str,
    approval_id: str,
    data: dict[str, Any],
    *,
    status: str,
    version: int,
    events: list[tuple[str, dict[str, Any]]],
    action: ActionChange | None = None,
    case_move: CaseMove | None = None,
) -> None:
    """One transaction: the record (if still PENDING at `version`), the action (if still
    PROPOSED), the case's status and the audit events. LedgerConflict and nothing written if
    any of them moved."""
    ops: list[Put | Update] = [
        Update(
            LedgerItem(case_pk(case_id), approval_sk(approval_id)),
            actions=_record_actions(data, status, version),
            condition=(LedgerItem.seq == version) & (LedgerItem.status == "PENDING"),
        )
    ]
    if action is not None:
        ops.append(_action_update(case_id, action))
    commit(case_id, events, ops=tuple(ops), case_actions=_move(case_move))


def _record_actions(data: dict[str, Any], status: str, version: int) -> list[Action]:
    return [
        LedgerItem.data.set(data),
        LedgerItem.status.set(status),
        LedgerItem.seq.set(version + 1),
        LedgerItem.updated_at.set(now_iso()),
    ]


def _action_update(case_id: str, change: ActionChange) -> Update:
    actions: list[Action] = [
        LedgerItem.status.set(change.status),
        LedgerItem.updated_at.set(now_iso()),
    ]
    if change.data is not None:
        actions.append(LedgerItem.data.set(change.data))
    if change.error is not None:
        actions.append(LedgerItem.error.set(change.error))
    return Update(
        LedgerItem(case_pk(case_id), action_sk(change.index)),
        actions=actions,
        condition=LedgerItem.status == "PROPOSED",
    )


def _move(move: CaseMove | None) -> Callable[[CaseRecord], Sequence[Action]]:
    def actions(case: CaseRecord) -> Sequence[Action]:
        if move is None or case.status != move[0]:
            return []
        return [LedgerItem.status.set(move[1])]

    return actions
