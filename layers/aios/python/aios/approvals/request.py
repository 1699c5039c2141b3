"""Opening an approval: the record of a PROPOSED action, bound to the ledger's digest of it.

The rule comes from the process's policy (capability, risk, parameters and the plan's
confidence); the record starts at level 0 with that rule's approvers, quorum and deadline, and
the case waits (WAITING_APPROVAL) in the same ledger transaction as `approval.requested`.
"""

from __future__ import annotations

import time
from typing import Any

from aios.approvals.escalation import level_of
from aios.approvals.records import (
    ApprovalRecord,
    StepResult,
    approval_id_for,
    approvals_in,
    find_approval,
    load_approval,
)
from aios.capabilities import get_capability
from aios.errors import ActionNotProposed, LedgerConflict, NoApprovalRule
from aios.ledger import LedgerItem, get_action, get_case, load_case_items
from aios.ledger.approvals import create_approval
from aios.policy import approval_rule
from aios.specs import ApprovalRule, ProcessSpec, get_spec

REQUESTED_FIELDS = (
    "approval_id",
    "action_id",
    "digest",
    "rule",
    "approvers",
    "quorum",
    "timeout_seconds",
)


def rule_for(
    spec: ProcessSpec, capability: str, params: dict[str, Any], confidence: float | None
) -> ApprovalRule:
    """The rule of the process's policy that puts this action before people."""
    rule = approval_rule(get_capability(capability), spec.policy, params, confidence)
    if rule is None:
        raise NoApprovalRule(f"no approval rule of {spec.name} applies to {capability}")
    return rule


def open_approval(case_id: str, action_id: str, index: int, now: float | None = None) -> StepResult:
    """Create the approval of a PROPOSED action, bound to the ledger's digest of it; once.

    A retry finds the record it made and answers the same. The case is WAITING_APPROVAL.
    """
    approval_id = approval_id_for(action_id)
    existing = find_approval(approval_id)
    if existing is not None:
        return existing.current_step()
    record = _new_record(case_id, action_id, index, time.time() if now is None else now)
    event = {k: v for k, v in record.data().items() if k in REQUESTED_FIELDS}
    try:
        create_approval(
            case_id,
            approval_id,
            record.data(),
            record.status,
            [("approval.requested", event)],
            case_move=("RUNNING", "WAITING_APPROVAL"),
        )
    except LedgerConflict:
        return load_approval(approval_id).current_step()
    return record.step("wait")


def _new_record(case_id: str, action_id: str, index: int, at: float) -> ApprovalRecord:
    stored = get_action(case_id, index)
    action = dict((stored.data if stored is not None else None) or {})
    if stored is None or action.get("action_id") != action_id or stored.status != "PROPOSED":
        raise ActionNotProposed(f"action {action_id} is not a proposed action of case {case_id}")
    items = load_case_items(case_id)
    spec = get_spec(str(get_case(case_id).data["process"]))
    confidence = _confidence(items, action["plan_id"])
    rule = rule_for(spec, action["capability"], action["params"], confidence)
    approvers, quorum, timeout = level_of(rule, 0)
    return ApprovalRecord(
        approval_id=approval_id_for(action_id),
        case_id=case_id,
        action_id=action_id,
        index=index,
        digest=action["digest"],
        process=spec.name,
        rule=rule.name,
        approvers=approvers,
        quorum=quorum,
        timeout_seconds=timeout,
        requested_at=at,
        expires_at=int(at + timeout),
        round=sum(1 for a in approvals_in(items) if a.status == "CHANGES_REQUESTED"),
    )


def _confidence(items: list[LedgerItem], plan_id: str) -> float | None:
    """The classification confidence of the plan that proposed the action, if it has one."""
    for item in items:
        if item.kind == "plan" and (item.data or {}).get("plan_id") == plan_id:
            value = ((item.data or {}).get("classification") or {}).get("confidence")
            return float(value) if value is not None else None
    return None
