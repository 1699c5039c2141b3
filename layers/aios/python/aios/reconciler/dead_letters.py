"""Dead-lettered action messages: fail the waiting task at once instead of at its timeout.

The dead-letter queue is as untrusted as the action queue, so the trust rule of the execution
plane holds here too: a message changes the ledger only when Step Functions accepts its task
token (only the case machine holds live tokens). Then, in one ledger transaction, the action
becomes FAILED (`ACTION_DEAD_LETTERED`) with an `action.dead_lettered` event and the finding,
and the case machine catches `Aios.ActionDeadLettered` and fails the case (compensating what
was applied). A plan's actions in one message fail the action it gave up on (the first not
applied). A message whose token is no longer live (its task failed in an earlier run, timed
out, or it is forged) leaves a finding on the case it names, once, and changes nothing.

Messages stay in the dead-letter queue for the operator (`aios dlq list`); a redrive of an
action whose task was failed is refused by the execution plane (the action is not runnable).
"""

from __future__ import annotations

from typing import Any

from aios import aws
from aios.deadletters import DeadLetter, peek, release
from aios.errors import ActionRejected
from aios.execution.messages import parse_message
from aios.ledger import action_status_update, get_action
from aios.plans import ActionMessage, CompensationMessage, PlanActionsMessage
from aios.reconciler.findings import Finding, record
from aios.tasks import fail_task

ACTION_ERROR = "Aios.ActionDeadLettered"
COMPENSATION_ERROR = "Aios.CompensationDeadLettered"
CODE = "ACTION_DEAD_LETTERED"


def _cause(letter: DeadLetter) -> dict[str, Any]:
    return {
        "code": CODE,
        "message": f"the message gave up after {letter.receive_count} receives and is in the "
        "dead-letter queue",
        "message_id": letter.message_id,
        "receive_count": letter.receive_count,
    }


def fail_dead_letter(letter: DeadLetter) -> Finding | None:
    """Fail the task the message's case waits on, and record it; None for a message that names
    no case (it stays in the queue for the operator)."""
    try:
        message = parse_message(letter.body)
    except ActionRejected:
        return None
    cause = _cause(letter)
    if isinstance(message, CompensationMessage):
        answered = fail_task(message.task_token, COMPENSATION_ERROR, cause)
        finding = Finding(
            kind="action_dead_lettered",
            case_id=message.compensate.case_id,
            subject="compensation",
            detail={**cause, "answered": answered},
            repair="compensation task failed" if answered else None,
        )
        return record(finding)
    return _fail_action(stopped_at(message), letter, cause)


def stopped_at(message: ActionMessage | PlanActionsMessage) -> ActionMessage:
    """The action a message gave up on: its own; for a plan's actions in one message, the first
    the ledger does not hold applied (the ones before it were), or the first if all are."""
    if isinstance(message, ActionMessage):
        return message
    each = message.each()
    for one in each:
        item = get_action(one.action.case_id, one.action.index)
        if item is None or item.status != "APPLIED":
            return one
    return each[0]


def _fail_action(message: ActionMessage, letter: DeadLetter, cause: dict[str, Any]) -> Finding:
    action = message.action
    answered = fail_task(message.task_token, ACTION_ERROR, cause)
    finding = Finding(
        kind="action_dead_lettered",
        case_id=action.case_id,
        subject=action.action_id,
        detail={"action_id": action.action_id, **cause, "answered": answered},
        repair="task failed" if answered else None,
    )
    if not answered:
        return record(finding)
    item = get_action(action.case_id, action.index)
    runnable = (
        item is not None
        and (item.data or {}).get("action_id") == action.action_id
        and item.status == "APPROVED"
    )
    ops = (
        [
            action_status_update(
                action.case_id, action.index, "FAILED", allowed_from=("APPROVED",), error=cause
            )
        ]
        if runnable
        else []
    )
    return record(
        finding,
        events=[("action.dead_lettered", {"action_id": action.action_id, **cause})],
        ops=ops,
    )


def reconcile_dead_letters(dlq_url: str, limit: int = 100) -> tuple[list[Finding], int]:
    """Handle every dead letter in view; returns the findings and how many messages were seen.

    The messages are released (made visible again) before returning.
    """
    sqs = aws.client("sqs")
    letters = peek(sqs, dlq_url, limit=limit)
    try:
        found = [f for f in (fail_dead_letter(letter) for letter in letters) if f is not None]
    finally:
        release(sqs, dlq_url, letters)
    return found, len(letters)
