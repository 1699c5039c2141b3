"""Compensation: undo the applied actions of a failing case, newest first, each at most once.

A compensation request is authenticated like an action: the case machine marks the case
COMPENSATING together with the SHA-256 of a one-time key it generated (`States.UUID()`), and
sends that key in the request. Only a case the ledger marks COMPENSATING whose stored key hash
matches is undone, so a message written to the queue by anyone else can roll back nothing.
"""

from __future__ import annotations

import functools
import hmac
from typing import Any

from aios import aws, bodies
from aios.capabilities import ActionContext, Capability, get_capability
from aios.cases import COMPENSATION_KEY_FIELD, compensation_key_hash
from aios.errors import CaseNotFound, CompensationRefused, LedgerConflict, RetryableActionError
from aios.execution.apply import MAX_STAGE_ATTEMPTS, Runner
from aios.ledger import (
    CaseRecord,
    LedgerItem,
    action_status_update,
    commit,
    get_action,
    get_case,
    load_case_items,
)
from aios.settings import Settings


def authenticate_compensation(case_id: str, key: str) -> None:
    """Raise CompensationRefused unless the case machine asked to compensate this case."""
    try:
        case = get_case(case_id)
    except CaseNotFound:
        raise CompensationRefused(f"no case {case_id!r}", case_exists=False) from None
    if case.status != "COMPENSATING":
        raise CompensationRefused(f"case {case_id} is {case.status}, not COMPENSATING")
    expected = str(case.data.get(COMPENSATION_KEY_FIELD, ""))
    if not expected or not hmac.compare_digest(expected, compensation_key_hash(key)):
        raise CompensationRefused(f"the compensation key of case {case_id} does not match")


def compensate_case(case_id: str, settings: Settings, run_once: Runner) -> dict[str, Any]:
    """Undo the applied actions of a failing case in reverse order, each at most once.

    Only a case the ledger marks COMPENSATING is undone, so a stray message cannot roll back a
    healthy case. An action without a compensation is recorded as such and left alone.
    """
    case = get_case(case_id)
    if case.status != "COMPENSATING":
        raise CompensationRefused(f"case {case_id} is {case.status}, not COMPENSATING")
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
        _compensate_one(case, item, capability, settings, run_once)
        undone.append(data["action_id"])
    return {"compensated": undone, "not_compensable": kept}


def _compensate_one(
    case: CaseRecord, item: LedgerItem, capability: Capability, settings: Settings, run_once: Runner
) -> None:
    case_id = case.case_id
    data = dict(item.data or {})
    action_id, index = data["action_id"], int(data["index"])
    params = capability.validate_params(bodies.params_of(data["params"], aws.client("s3")))
    applied = dict(item.result or {})
    ctx = ActionContext(
        case_id=case_id,
        action_id=action_id,
        entity_key=data["entity_key"],
        settings=settings,
        capability=capability.name,
        plan_id=str(data.get("plan_id") or ""),
        step=index,
        tenant=str(case.data.get("tenant") or ""),
        process=str(case.data.get("process") or ""),
        model_id=str(data.get("model_id") or ""),
        prompt_version=str(data.get("prompt_version") or ""),
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
                    action_status_update(case_id, index, "COMPENSATED", allowed_from=("APPLIED",)),
                ),
            )
            return
        except LedgerConflict:
            current = get_action(case_id, index)
            if current is not None and current.status == "COMPENSATED":
                return
    raise RetryableActionError(f"compensation of {action_id} kept losing its entity lock")
