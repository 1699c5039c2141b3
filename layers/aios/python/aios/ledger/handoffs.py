"""Handoff items, who holds a handed-off case, and the operator queues.

A handoff lives in its case's partition at `HANDOFF#<handoff id>` (the plan id its round would
have had), one per round that gave up. Its `status` is WAITING until a person moves it
(RETURNED, ACTED, RESOLVED, CANCELLED) or the wait times out (TIMED_OUT); `seq` is its version,
`task_token` the token the case machine waits on. Who holds a handed-off case is the case
item's `holder`, set and cleared by compare-and-set in the same transaction as the audit event
that names the person.

The queues (`Queues` index, keys only) are kept in step by `commit` (see
`repository.QUEUES`); this module reads them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from aios.ledger.models import LedgerItem
from aios.ledger.repository import (
    CASE_SK,
    CaseRecord,
    Put,
    Update,
    case_pk,
    commit,
    handoff_sk,
    now_iso,
)

HANDED_OFF = "HANDED_OFF"
WAITING = "WAITING"
BATCH_GET_MAX = 100
Events = list[tuple[str, dict[str, Any]]]


def get_handoff(case_id: str, handoff_id: str) -> LedgerItem | None:
    """The handoff item (a consistent read); None if the case has no such handoff."""
    try:
        return LedgerItem.get(case_pk(case_id), handoff_sk(handoff_id), consistent_read=True)
    except LedgerItem.DoesNotExist:
        return None


def set_task_token(case_id: str, handoff_id: str, token: str) -> bool:
    """Keep the token the case machine waits on, only while the handoff is WAITING.

    False when it is not (a person moved it, or it timed out): the caller answers the task.
    """
    try:
        LedgerItem(case_pk(case_id), handoff_sk(handoff_id)).update(
            actions=[LedgerItem.task_token.set(token), LedgerItem.updated_at.set(now_iso())],
            condition=LedgerItem.status == WAITING,
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        return False
    return True


def stage_handoff_change(
    item: LedgerItem, *, data: dict[str, Any], status: str | None = None
) -> Update:
    """A commit op writing the handoff's `data` (and `status`), only if it is still WAITING at
    the version it was read with.

    The task token stays: whoever closes the wait reads it after this commit and answers the
    task, so a token kept just before the commit is answered, and one kept after it is refused
    (`set_task_token`) and answered by its keeper."""
    version = int(item.seq or 0)
    actions: list[Action] = [
        LedgerItem.data.set(data),
        LedgerItem.seq.set(version + 1),
        LedgerItem.updated_at.set(now_iso()),
    ]
    if status is not None:
        actions.append(LedgerItem.status.set(status))
    condition = (LedgerItem.status == WAITING) & (LedgerItem.seq == version)
    return Update(LedgerItem(item.pk, item.sk), actions=actions, condition=condition)


def _held_by(holder: str | None) -> Condition:
    """Untaken, or held by `holder`."""
    untaken = LedgerItem.holder.does_not_exist()
    return untaken if holder is None else untaken | (LedgerItem.holder == holder)


def hold_case(case_id: str, holder: str, events: Events, *, take_over: bool = False) -> None:
    """The case is held by `holder` while it is HANDED_OFF and untaken or already theirs (any
    holder with `take_over`); LedgerConflict and nothing written otherwise."""
    condition = LedgerItem.status == HANDED_OFF
    if not take_over:
        condition = condition & _held_by(holder)
    commit(
        case_id,
        events,
        case_actions=[LedgerItem.holder.set(holder)],
        case_condition=condition,
    )


def release_case(case_id: str, holder: str | None, events: Events) -> None:
    """Nobody holds the case any more, if it is HANDED_OFF and held by `holder` (anyone's hold
    when None); LedgerConflict otherwise."""
    condition = (LedgerItem.status == HANDED_OFF) & LedgerItem.holder.exists()
    if holder is not None:
        condition = condition & (LedgerItem.holder == holder)
    commit(case_id, events, case_actions=[LedgerItem.holder.remove()], case_condition=condition)


def move_case(
    case_id: str,
    events: Events,
    *,
    to_status: str,
    from_statuses: Sequence[str],
    holder: str | None,
    check_holder: bool,
    ops: tuple[Put | Update, ...] = (),
    data: Callable[[CaseRecord], dict[str, Any]] | None = None,
) -> None:
    """One transaction: the case from one of `from_statuses` to `to_status` with nobody
    holding it, `ops` and the events. With `check_holder`, only while it is untaken or held by
    `holder`. LedgerConflict and nothing written if anything moved."""

    def actions(case: CaseRecord) -> list[Action]:
        out: list[Action] = [LedgerItem.status.set(to_status), LedgerItem.holder.remove()]
        if data is not None:
            out.append(LedgerItem.data.set(data(case)))
        return out

    condition = LedgerItem.status.is_in(*from_statuses)
    if check_holder:
        condition = condition & _held_by(holder)
    commit(case_id, events, ops=ops, case_actions=actions, case_condition=condition)


def case_holder(case_id: str) -> str | None:
    """Who holds the case now (a consistent read); None when nobody does or no such case."""
    try:
        item = LedgerItem.get(
            case_pk(case_id), CASE_SK, consistent_read=True, attributes_to_get=["holder"]
        )
    except LedgerItem.DoesNotExist:
        return None
    return item.holder


def queued(queue: str, *, oldest_first: bool = True) -> Iterator[tuple[str, str, str]]:
    """(pk, sk, queued_at) of the items in `queue`, oldest (or newest) first, page by page.

    The index is eventually consistent: an item may show up a moment after it entered.
    """
    for item in LedgerItem.queue_index.query(queue, scan_index_forward=oldest_first):
        yield item.pk, item.sk, str(item.queued_at or "")


def get_items(keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], LedgerItem]:
    """The items with these keys that exist (consistent batch reads), by key."""
    unique = list(dict.fromkeys(keys))
    found: dict[tuple[str, str], LedgerItem] = {}
    for start in range(0, len(unique), BATCH_GET_MAX):
        for item in LedgerItem.batch_get(
            unique[start : start + BATCH_GET_MAX], consistent_read=True
        ):
            found[(item.pk, item.sk)] = item
    return found
