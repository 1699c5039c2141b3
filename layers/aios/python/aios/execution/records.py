"""Recording what the execution plane refused or could not do, with its reason.

A rejection never trusts the message it rejects: the state of an action (PROPOSED, APPROVED)
changes only when the caller has established that the message came from the case machine
(its task token is live); otherwise the rejection is only an audit event on the named case's
chain, or an orphan rejection record when no such case exists. So a forged message can leave
a trace, never a change to a genuine plan, action, approval or case.
"""

from __future__ import annotations

from typing import Any

from aios.errors import ActionRejected, CaseNotFound
from aios.ledger import Update, action_status_update, commit, get_action, put_rejection

OPEN = ("PROPOSED", "APPROVED")
ORPHAN_BODY_CHARS = 4096


def record_outcome(
    case_id: str,
    index: int | None,
    action_id: str,
    status: str,
    error: dict[str, Any],
    *,
    change_action: bool = True,
) -> bool:
    """Record a rejected or failed action with its reason; False when no case holds it.

    With `change_action`, an open action item naming `action_id` moves to `status` in the same
    transaction as the audit event; without it only the event is written.
    """
    event = "action.rejected" if status == "REJECTED" else "action.failed"
    ops: tuple[Update, ...] = ()
    item = get_action(case_id, index) if change_action and index is not None else None
    if (
        item is not None
        and index is not None
        and (item.data or {}).get("action_id") == action_id
        and item.status in OPEN
    ):
        ops = (action_status_update(case_id, index, status, allowed_from=OPEN, error=error),)
    try:
        commit(case_id, [(event, {"action_id": action_id, **error})], ops=ops)
    except CaseNotFound:
        return False
    return True


def record_case_event(case_id: str, event: str, data: dict[str, Any]) -> bool:
    """Append one event to the case's audit chain; False when there is no such case."""
    try:
        commit(case_id, [(event, data)])
    except CaseNotFound:
        return False
    return True


def record_orphan_rejection(
    message_id: str, body: str, error: ActionRejected | dict[str, Any]
) -> None:
    """A message that names no case we hold is still recorded, under its message id."""
    reason = error.to_dict() if isinstance(error, ActionRejected) else error
    put_rejection(message_id, reason, body[:ORPHAN_BODY_CHARS])
