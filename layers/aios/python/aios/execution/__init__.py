"""The execution plane: verify a proposed action, then apply it at most once.

`run_message` is the whole decision tree for one queue message and returns an `Outcome`:

- `applied`: verified and applied (or applied before, and the waiting task now has its answer);
- `rejected`: refused before anything was applied, recorded with its reason;
- `retry`: the outside system may succeed later; the message goes back to the queue;
- `failed`: the outside system refused for good; recorded, and the case is told;
- `compensated`: a failing case's applied actions were undone.

Trust rule: the message is untrusted until the case machine vouches for it. A refused message
changes the state of an action only when its task token is accepted by Step Functions (only
the case machine holds live tokens); otherwise the refusal is an audit event on the named
case's chain, or an orphan rejection record, and no genuine plan, action, approval or case
changes. Anything that can never succeed is refused at once; only retryable failures (the
outside system, AWS throttling) go back to the queue.

A plan whose actions are all auto-approved and touch one entity comes as one message
(`aios.plans.PlanActionsMessage`, one state transition and one queue message for them all):
each action takes the path above in plan order, the first refusal or failure answers the task
(what ran before it is compensated by the case, as after a per-action failure), and the task
gets every answer at once when all are applied.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aios import aws, bodies
from aios.capabilities import ActionContext
from aios.errors import (
    ActionRejected,
    ActionReplayed,
    CompensationRefused,
    MessageUnprocessable,
    RetryableActionError,
    TerminalActionError,
)
from aios.execution.apply import (
    Runner,
    applied_result,
    apply_action,
    idempotent_runner,
    release_claim,
)
from aios.execution.compensation import authenticate_compensation, compensate_case
from aios.execution.messages import MAX_MESSAGE_BYTES, parse_message
from aios.execution.records import record_case_event, record_orphan_rejection, record_outcome
from aios.execution.verify import VerifiedAction, verify_action
from aios.keyring import Keyring
from aios.memory.context import is_claim
from aios.plans import ActionMessage, CompensationMessage, PlanActionsMessage, PlannedAction
from aios.settings import Settings

OutcomeKind = Literal["applied", "rejected", "retry", "failed", "compensated"]
# (token, output) -> True when a waiting task took the answer; the output of a plan's actions
# in one message is the list of their answers
SucceedTask = Callable[[str, dict[str, Any] | list[dict[str, Any]]], bool]
# (token, error name, cause) -> True when a waiting task took the answer
FailTask = Callable[[str, str, dict[str, Any]], bool]


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    case_id: str | None = None
    action_id: str | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    answered: bool = False
    """Whether a waiting task took the answer (False for forged or replayed messages)."""
    applied_ids: tuple[str, ...] = ()
    """For a plan's actions in one message, applied together: every action's id, in order."""

    @property
    def actions(self) -> int:
        """How many actions the outcome covers."""
        return len(self.applied_ids) or 1


def redeem_from_store(action: PlannedAction) -> PlannedAction:
    """The action with claim-checked params fetched from the body store and verified."""
    bucket, _ = bodies.store_settings()
    if not is_claim(action.params):
        return action
    return bodies.redeem(action, s3=aws.client("s3"), bucket=bucket)


@dataclass(frozen=True)
class ExecutionContext:
    """What the decision tree needs from its environment, wired once per cold start."""

    settings: Settings
    keyring: Keyring
    run_once: Runner
    succeed_task: SucceedTask
    fail_task: FailTask
    log_keys: Callable[..., None] = field(default=lambda **_: None)
    redeem: Callable[[PlannedAction], PlannedAction] = field(default=redeem_from_store)
    """Puts claim-checked params back, verified (`aios.bodies.redeem` on the body store)."""


def _transient(exc: BaseException) -> bool:
    """AWS or network trouble: another attempt may succeed."""
    from botocore.exceptions import BotoCoreError, ClientError
    from pynamodb.exceptions import PynamoDBException

    return isinstance(exc, BotoCoreError | ClientError | PynamoDBException | OSError)


def run_message(message_id: str, body: str, ctx: ExecutionContext) -> Outcome:
    """Decide and do what one queue message asks, at most once; see the module docstring."""
    try:
        message = parse_message(body)
    except ActionRejected as exc:
        record_orphan_rejection(message_id, body, exc)
        return Outcome("rejected", error=exc.to_dict())
    if isinstance(message, CompensationMessage):
        return run_compensation(message, message_id, body, ctx)
    if isinstance(message, PlanActionsMessage):
        return run_plan_actions(message, message_id, body, ctx)
    return run_action(message, message_id, body, ctx)


def run_action(
    message: ActionMessage, message_id: str, body: str, ctx: ExecutionContext
) -> Outcome:
    """Verify the action, apply it at most once, and answer the task that waits for it."""
    step = _verify_and_apply(message, message_id, body, ctx)
    if isinstance(step, Outcome):
        return step
    verified, result, before = step
    if before:
        return _answer_applied(verified, message_id, body, ctx)
    action = message.action
    answered = ctx.succeed_task(message.task_token, _applied(verified, result, ctx.settings))
    return Outcome("applied", action.case_id, action.action_id, result=result, answered=answered)


def run_plan_actions(
    message: PlanActionsMessage, message_id: str, body: str, ctx: ExecutionContext
) -> Outcome:
    """Every action of a plan that came in one message, in plan order, then one answer.

    Each action is redeemed, verified and applied exactly as from its own message (the same
    checks, idempotency key and records). The first one refused or failed answers the task with
    its failure, as its own message would have, and the actions after it are not run (the case
    compensates those before it); a retryable failure sends the whole message back, and on the
    next delivery the actions applied already are found applied, not applied again. When all
    are applied the task gets every action's answer, in order. A message whose actions were
    all applied before and whose token no task accepts is a replay, refused and recorded."""
    answers: list[dict[str, Any]] = []
    replayed = True
    each = message.each()
    for one in each:
        step = _verify_and_apply(one, message_id, body, ctx)
        if isinstance(step, Outcome):
            return step
        verified, result, before = step
        replayed = replayed and before
        answers.append(_applied(verified, result, ctx.settings))
    last, ids = message.actions[-1], tuple(a.action_id for a in message.actions)
    if ctx.succeed_task(message.task_token, answers):
        return Outcome("applied", last.case_id, last.action_id, answered=True, applied_ids=ids)
    if replayed:
        replay = ActionReplayed("the plan's actions were applied already")
        return _reject(each[0], message_id, body, replay, ctx)
    return Outcome("applied", last.case_id, last.action_id, applied_ids=ids)


Step = tuple[VerifiedAction, dict[str, Any], bool]
"""A verified action, its result, and whether it had been applied before this delivery."""


def _verify_and_apply(
    message: ActionMessage, message_id: str, body: str, ctx: ExecutionContext
) -> Outcome | Step:
    """Redeem, verify and apply one action at most once, without answering its task when it is
    applied; an Outcome when it ends here (refused or failed, with the task told; or retry)."""
    try:  # a claim-checked body is fetched and verified before anything else
        message = message.model_copy(update={"action": ctx.redeem(message.action)})
    except ActionRejected as exc:
        return _reject(message, message_id, body, exc, ctx)
    action, envelope = message.action, message.plan.envelope
    # Claimed until verified: a forged message can only put its own claims in the log.
    ctx.log_keys(
        case_id=action.case_id,
        plan_id=action.plan_id,
        action_id=action.action_id,
        step=action.index,
        process=envelope.process,
        tenant=envelope.tenant,
        model_id=action.model_id,
        prompt_version=action.prompt_version,
    )
    try:
        verified = verify_action(message, keyring=ctx.keyring, settings=ctx.settings)
    except ActionRejected as exc:
        return _reject(message, message_id, body, exc, ctx)
    except Exception as exc:
        if _transient(exc):
            raise
        refused = MessageUnprocessable(f"verification failed: {type(exc).__name__}: {exc}"[:2000])
        return _reject(message, message_id, body, refused, ctx)
    if verified.applied is not None:
        return verified, verified.applied, True
    try:
        result = apply_action(verified, ctx.settings, ctx.run_once)
    except RetryableActionError as exc:
        return Outcome("retry", action.case_id, action.action_id, error=exc.to_dict())
    except TerminalActionError as exc:
        release_claim(verified)
        record_outcome(action.case_id, action.index, action.action_id, "FAILED", exc.to_dict())
        answered = ctx.fail_task(message.task_token, "Aios.ActionFailed", exc.to_dict())
        return Outcome(
            "failed", action.case_id, action.action_id, error=exc.to_dict(), answered=answered
        )
    return verified, result, False


def _applied(
    verified: VerifiedAction, result: dict[str, Any], settings: Settings
) -> dict[str, Any]:
    """The task's answer; a large result stays in the ledger's action item, named by digest.

    It carries the outcome for the decision plane: `recorded` says whether this plane wrote it
    on the case's audit chain (one stack); if not, Finalize records it from the answer."""
    action = verified.message.action
    return {
        "action_id": action.action_id,
        "status": "APPLIED",
        "result": bodies.task_result(result),
        "index": action.index,
        "digest": action.digest_hex,
        "rules": list(verified.rules),
        "recorded": settings.decision_ledger,
    }


def _answer_applied(
    verified: VerifiedAction, message_id: str, body: str, ctx: ExecutionContext
) -> Outcome:
    """Applied before: a redelivery after a crash answers its task; anything else is a replay."""
    message, action = verified.message, verified.message.action
    done = verified.applied or {}
    if ctx.succeed_task(message.task_token, _applied(verified, done, ctx.settings)):
        return Outcome("applied", action.case_id, action.action_id, result=done, answered=True)
    return _reject(message, message_id, body, ActionReplayed("the action was applied already"), ctx)


def _reject(
    message: ActionMessage, message_id: str, body: str, exc: ActionRejected, ctx: ExecutionContext
) -> Outcome:
    """Tell the waiting task first: only a token it accepts lets the refusal change the action."""
    action = message.action
    genuine = ctx.fail_task(message.task_token, f"Aios.{type(exc).__name__}", exc.to_dict())
    recorded = record_outcome(
        action.case_id,
        action.index,
        action.action_id,
        "REJECTED",
        exc.to_dict(),
        change_action=genuine,
    )
    if not recorded:
        record_orphan_rejection(message_id, body, exc)
    return Outcome(
        "rejected", action.case_id, action.action_id, error=exc.to_dict(), answered=genuine
    )


def run_compensation(
    message: CompensationMessage, message_id: str, body: str, ctx: ExecutionContext
) -> Outcome:
    """Undo a failing case's applied actions once the case machine's request is authenticated."""
    target = message.compensate
    ctx.log_keys(case_id=target.case_id)
    try:
        authenticate_compensation(target.case_id, target.key)
        summary = compensate_case(target.case_id, ctx.settings, ctx.run_once)
    except CompensationRefused as exc:
        answered = ctx.fail_task(message.task_token, "Aios.CompensationRefused", exc.to_dict())
        reason = {k: v for k, v in exc.to_dict().items() if k != "case_exists"}
        if not record_case_event(target.case_id, "compensation.rejected", reason):
            record_orphan_rejection(message_id, body, reason)
        return Outcome("rejected", target.case_id, error=reason, answered=answered)
    except RetryableActionError as exc:
        return Outcome("retry", target.case_id, error=exc.to_dict())
    except TerminalActionError as exc:
        answered = ctx.fail_task(message.task_token, "Aios.CompensationFailed", exc.to_dict())
        return Outcome("failed", target.case_id, error=exc.to_dict(), answered=answered)
    answered = ctx.succeed_task(message.task_token, summary)
    return Outcome("compensated", target.case_id, result=summary, answered=answered)


__all__ = [
    "MAX_MESSAGE_BYTES",
    "ActionContext",
    "ExecutionContext",
    "Outcome",
    "VerifiedAction",
    "applied_result",
    "apply_action",
    "compensate_case",
    "idempotent_runner",
    "parse_message",
    "record_case_event",
    "record_orphan_rejection",
    "record_outcome",
    "run_action",
    "run_compensation",
    "run_message",
    "run_plan_actions",
    "verify_action",
]
