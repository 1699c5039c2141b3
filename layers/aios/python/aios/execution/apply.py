"""Apply a verified action at most once per action id and record it APPLIED with its audit event."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from aios.capabilities import ActionContext
from aios.errors import LedgerConflict, RetryableActionError, TerminalActionError
from aios.execution.verify import VerifiedAction
from aios.ledger import (
    action_status_update,
    commit,
    commit_ops,
    get_action,
    get_applied,
    now_iso,
    release_cap,
    release_unique,
    stage_applied,
    stage_unique_applied,
)
from aios.settings import Settings

RUNNABLE = ("APPROVED",)
Runner = Callable[[str, str, Callable[[], dict[str, Any]]], dict[str, Any]]
MAX_STAGE_ATTEMPTS = 5


def applied_result(action_id: str, digest_hex: str) -> dict[str, Any] | None:
    """What the execution plane recorded when it applied this action (its own applied record,
    not the action item's status, which other planes' roles can write); None if it did not."""
    record = get_applied(action_id)
    if record is not None and record.digest == digest_hex:
        return record.result
    return None


def action_context(verified: VerifiedAction, settings: Settings) -> ActionContext:
    """The executor's context with the action's causal metadata from the signed plan."""
    envelope, action = verified.message.plan.envelope, verified.message.action
    return ActionContext(
        case_id=action.case_id,
        action_id=action.action_id,
        entity_key=action.entity_key,
        settings=settings,
        capability=verified.capability.name,
        plan_id=action.plan_id,
        step=action.index,
        tenant=envelope.tenant,
        process=envelope.process,
        model_id=action.model_id,
        prompt_version=action.prompt_version,
    )


def apply_action(
    verified: VerifiedAction,
    settings: Settings,
    run_once: Runner,
) -> dict[str, Any]:
    """Apply the action at most once per action id and record it APPLIED with its audit event.

    `run_once` wraps the executor in an idempotency store keyed by action id, so a crash
    between the outside call and the ledger write never calls the outside system again.
    """
    action = verified.message.action
    if verified.applied is not None:
        return verified.applied
    ctx = action_context(verified, settings)
    for _ in range(MAX_STAGE_ATTEMPTS):
        staged: list[Any] = []
        if verified.capability.stage is not None:
            staged, result = verified.capability.stage(verified.params, ctx)
        else:
            capability, params = verified.capability, verified.params
            result = run_once(
                action.action_id,
                action.digest_hex,
                functools.partial(capability.execute, params, ctx),
            )
        try:
            _record_applied(verified, result, staged, settings)
            return result
        except LedgerConflict:
            done = applied_result(action.action_id, action.digest_hex)
            if done is not None:
                return done
            item = get_action(action.case_id, action.index)
            if not staged or item is None or item.status not in RUNNABLE:
                raise TerminalActionError(
                    f"action {action.action_id} is no longer runnable"
                ) from None
            # A staged write lost an optimistic lock: re-read and apply on the new version.
    raise RetryableActionError(f"action {action.action_id} kept losing its entity lock")


def _record_applied(
    verified: VerifiedAction, result: dict[str, Any], staged: list[Any], settings: Settings
) -> None:
    action = verified.message.action
    at = now_iso()
    staged = [
        *staged,
        stage_applied(
            action.action_id,
            case_id=action.case_id,
            digest=action.digest_hex,
            result=result,
            at=at,
        ),
    ]
    if verified.unique_key is not None:  # the uniqueness claim must still be this action's
        staged = [
            *staged,
            stage_unique_applied(
                action.entity_key, verified.unique_key, action_id=action.action_id, at=at
            ),
        ]
    if not settings.decision_ledger:
        # On its own: the applied record and the entity writes here; the case's audit chain
        # lives in the decision account, where Finalize records the outcome from the answer.
        commit_ops(staged)
        return
    commit(
        action.case_id,
        [
            (
                "action.applied",
                {
                    "action_id": action.action_id,
                    "digest": action.digest_hex,
                    "result": result,
                    "rules": list(verified.rules),
                },
            )
        ],
        ops=(
            *staged,
            action_status_update(
                action.case_id, action.index, "APPLIED", allowed_from=RUNNABLE, result=result
            ),
        ),
    )


def release_claim(verified: VerifiedAction) -> None:
    """An action that will never apply gives its uniqueness claim back and stops counting in
    its caps' running totals."""
    action = verified.message.action
    if verified.unique_key is not None:
        release_unique(
            action.entity_key, verified.unique_key, action_id=action.action_id, at=now_iso()
        )
    for key in verified.cap_keys:
        release_cap(action.entity_key, key, action_id=action.action_id, at=now_iso())


def idempotent_runner(
    table_name: str, expires_after_seconds: int = 7 * 24 * 3600
) -> tuple[Runner, Any]:
    """`run_once(key, digest, call)`: runs `call` once per key (Powertools idempotency, DynamoDB).

    A repeat with the same key returns the stored result without calling again; a repeat with
    the same key but another digest is refused. Returns the runner and its IdempotencyConfig,
    on which the handler registers the Lambda context so that an in-progress record expires
    with the invocation that wrote it.
    """
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    persistence = DynamoDBPersistenceLayer(table_name=table_name)
    config = IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="digest",
        expires_after_seconds=expires_after_seconds,
        raise_on_no_idempotency_key=True,
    )
    calls: dict[str, Callable[[], dict[str, Any]]] = {}

    @idempotent_function(  # type: ignore[untyped-decorator]  # Powertools' decorator is untyped
        data_keyword_argument="request", persistence_store=persistence, config=config
    )
    def _run(request: dict[str, str]) -> dict[str, Any]:
        return calls[request["key"]]()

    def run_once(key: str, digest_hex: str, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        calls[key] = call
        try:
            result: dict[str, Any] = _run(request={"key": key, "digest": digest_hex})
            return result
        finally:
            calls.pop(key, None)

    return run_once, config
