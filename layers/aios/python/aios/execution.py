"""The execution plane: verify a proposed action, then apply it at most once.

Nothing reaches an outside system unless the plan signature verifies, the action is the one
the plan lists, the plan has not expired, the ledger holds an attestation bound to the action's
digest, the params match their schema and the process allows the capability.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from aios.capabilities import ActionContext, Capability, get_capability
from aios.errors import (
    ActionRejected,
    AttestationMissing,
    CaseNotFound,
    LedgerConflict,
    NotInPlan,
    PlanExpired,
    RetryableActionError,
    TerminalActionError,
    UnknownAction,
    WrongCase,
)
from aios.ledger import LedgerItem, Update, action_sk, case_pk, commit, get_case, load_case_items
from aios.plans import ActionMessage
from aios.settings import Settings
from aios.signing import PublicKeyCache, verify_plan
from aios.specs import get_spec

RUNNABLE = ("APPROVED",)
Runner = Callable[[str, str, Callable[[], dict[str, Any]]], dict[str, Any]]
MAX_STAGE_ATTEMPTS = 5


@dataclass(frozen=True)
class VerifiedAction:
    message: ActionMessage
    capability: Capability
    params: BaseModel
    applied: dict[str, Any] | None = None
    """The recorded result when the ledger already holds the action APPLIED."""


def _action_item(case_id: str, index: int) -> LedgerItem | None:
    try:
        return LedgerItem.get(case_pk(case_id), action_sk(index), consistent_read=True)
    except LedgerItem.DoesNotExist:
        return None


def verify_action(
    message: ActionMessage,
    *,
    keys: PublicKeyCache,
    trusted_key_ids: set[str],
    settings: Settings,
    now: datetime | None = None,
) -> VerifiedAction:
    """Every check before anything is applied; raises an ActionRejected subclass."""
    verify_plan(message.plan, keys, trusted_key_ids)
    envelope, action = message.plan.envelope, message.action
    if action.case_id != envelope.case_id or action.plan_id != envelope.plan_id:
        raise WrongCase(f"action {action.action_id} does not belong to case {envelope.case_id}")
    computed = action.spec().digest()
    listed = envelope.action_digests
    if (
        computed != action.digest_hex
        or action.index >= len(listed)
        or listed[action.index] != computed
    ):
        raise NotInPlan(f"action {action.action_id} is not the action the signed plan lists")
    if envelope.expired(now or datetime.now(UTC)):
        raise PlanExpired(f"plan {envelope.plan_id} expired at {envelope.expires_at}")
    spec = get_spec(envelope.process)
    capability = get_capability(action.capability, spec.allowed)
    params = capability.validate_params(action.params)
    if capability.authorize is not None:
        capability.authorize(params, settings)
    item = _action_item(action.case_id, action.index)
    if item is None or (item.data or {}).get("action_id") != action.action_id:
        raise UnknownAction(f"the ledger holds no action {action.action_id}")
    attestation = (item.data or {}).get("attestation") or {}
    if attestation.get("digest") != computed:
        raise AttestationMissing(
            f"action {action.action_id} has no attestation bound to its digest"
        )
    applied = dict(item.result or {}) if item.status == "APPLIED" else None
    return VerifiedAction(message=message, capability=capability, params=params, applied=applied)


def applied_result(case_id: str, index: int) -> dict[str, Any] | None:
    item = _action_item(case_id, index)
    if item is not None and item.status == "APPLIED":
        return dict(item.result or {})
    return None


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
    ctx = ActionContext(
        case_id=action.case_id,
        action_id=action.action_id,
        entity_key=action.entity_key,
        settings=settings,
    )
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
            _record_applied(verified, result, staged)
            return result
        except LedgerConflict:
            done = applied_result(action.case_id, action.index)
            if done is not None:
                return done
            item = _action_item(action.case_id, action.index)
            if not staged or item is None or item.status not in RUNNABLE:
                raise TerminalActionError(
                    f"action {action.action_id} is no longer runnable"
                ) from None
            # A staged write lost an optimistic lock: re-read and apply on the new version.
    raise RetryableActionError(f"action {action.action_id} kept losing its entity lock")


def _record_applied(verified: VerifiedAction, result: dict[str, Any], staged: list[Any]) -> None:
    action = verified.message.action
    commit(
        action.case_id,
        [
            (
                "action.applied",
                {"action_id": action.action_id, "digest": action.digest_hex, "result": result},
            )
        ],
        ops=(
            *staged,
            Update(
                LedgerItem(case_pk(action.case_id), action_sk(action.index)),
                actions=[
                    LedgerItem.status.set("APPLIED"),
                    LedgerItem.result.set(result),
                    LedgerItem.updated_at.set(datetime.now(UTC).isoformat()),
                ],
                condition=LedgerItem.status.is_in(*RUNNABLE),
            ),
        ),
    )


def record_outcome(
    case_id: str, index: int | None, action_id: str, status: str, error: dict[str, Any]
) -> bool:
    """Record a rejected or failed action with its reason; False when no case holds it."""
    event = "action.rejected" if status == "REJECTED" else "action.failed"
    ops: tuple[Update, ...] = ()
    item = _action_item(case_id, index) if index is not None else None
    if (
        item is not None
        and (item.data or {}).get("action_id") == action_id
        and item.status
        in (
            "PROPOSED",
            "APPROVED",
        )
    ):
        ops = (
            Update(
                LedgerItem(case_pk(case_id), action_sk(index or 0)),
                actions=[
                    LedgerItem.status.set(status),
                    LedgerItem.error.set(error),
                    LedgerItem.updated_at.set(datetime.now(UTC).isoformat()),
                ],
                condition=LedgerItem.status.is_in("PROPOSED", "APPROVED"),
            ),
        )
    try:
        commit(case_id, [(event, {"action_id": action_id, **error})], ops=ops)
    except CaseNotFound:
        return False
    return True


def record_orphan_rejection(
    message_id: str, body: str, error: ActionRejected | dict[str, Any]
) -> None:
    """A message that names no case we hold is still recorded, under its message id."""
    reason = error.to_dict() if isinstance(error, ActionRejected) else error
    now = datetime.now(UTC).isoformat()
    LedgerItem(
        f"REJECTION#{message_id}",
        "REJECTION",
        kind="rejection",
        status="REJECTED",
        data={"reason": reason, "body": body[:4096]},
        created_at=now,
        updated_at=now,
    ).save()


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


def compensate_case(case_id: str, settings: Settings, run_once: Runner) -> dict[str, Any]:
    """Undo the applied actions of a failing case in reverse order, each at most once.

    Only a case the ledger marks COMPENSATING is undone, so a stray message cannot roll back a
    healthy case. An action without a compensation is recorded as such and left alone.
    """
    case = get_case(case_id)
    if case.status != "COMPENSATING":
        raise ActionRejected(f"case {case_id} is {case.status}, not COMPENSATING")
    actions = sorted(
        (i for i in load_case_items(case_id) if i.kind == "action"),
        key=lambda i: int((i.data or {}).get("index", 0)),
        reverse=True,
    )
    undone: list[str] = []
    kept: list[str] = []
    for item in actions:
        data = dict(item.data or {})
        if item.status == "COMPENSATED":
            undone.append(data["action_id"])
            continue
        if item.status != "APPLIED":
            continue
        capability = get_capability(data["capability"])
        if not capability.compensable:
            kept.append(data["action_id"])
            continue
        _compensate_one(case_id, item, capability, settings, run_once)
        undone.append(data["action_id"])
    return {"compensated": undone, "not_compensable": kept}


def _compensate_one(
    case_id: str, item: LedgerItem, capability: Capability, settings: Settings, run_once: Runner
) -> None:
    data = dict(item.data or {})
    action_id, index = data["action_id"], int(data["index"])
    params = capability.validate_params(data["params"])
    applied = dict(item.result or {})
    ctx = ActionContext(
        case_id=case_id, action_id=action_id, entity_key=data["entity_key"], settings=settings
    )
    for _ in range(MAX_STAGE_ATTEMPTS):
        staged: list[Any] = []
        if capability.compensate_stage is not None:
            staged, result = capability.compensate_stage(params, ctx, applied)
        else:
            compensate = capability.compensate
            assert compensate is not None
            result = run_once(
                f"{action_id}.undo",
                data["digest"],
                functools.partial(compensate, params, ctx, applied),
            )
        try:
            commit(
                case_id,
                [("action.compensated", {"action_id": action_id, "result": result})],
                ops=(
                    *staged,
                    Update(
                        LedgerItem(case_pk(case_id), action_sk(index)),
                        actions=[
                            LedgerItem.status.set("COMPENSATED"),
                            LedgerItem.updated_at.set(datetime.now(UTC).isoformat()),
                        ],
                        condition=LedgerItem.status == "APPLIED",
                    ),
                ),
            )
            return
        except LedgerConflict:
            current = _action_item(case_id, index)
            if current is not None and current.status == "COMPENSATED":
                return
    raise RetryableActionError(f"compensation of {action_id} kept losing its entity lock")
