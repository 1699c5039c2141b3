"""Escalation: when a level's deadline passes, the next level's people, or the final timeout.

Level 0 is the rule's own approvers, quorum and timeout; level n is the rule's n-th escalation
step, whose quorum is the rule's, capped at the number of its approvers. On the final timeout
the action is SKIPPED (APPROVAL_TIMED_OUT) and the outcome is the rule's `on_final_timeout`.
"""

from __future__ import annotations

import time
from typing import NamedTuple

from aios.approvals.records import (
    ApprovalRecord,
    StepResult,
    commit_record,
    load_approval,
    rule_of,
    skipped,
)
from aios.ledger import now_iso
from aios.specs import ApprovalRule


class Level(NamedTuple):
    approvers: list[str]
    quorum: int
    timeout_seconds: int


def level_of(rule: ApprovalRule, level: int) -> Level:
    """The approvers, quorum and timeout of escalation level `level` (0 = the rule's own)."""
    if level == 0:
        return Level(list(rule.approvers), rule.quorum, rule.timeout_seconds)
    step = rule.escalation[level - 1]
    return Level(list(step.approvers), min(rule.quorum, len(step.approvers)), step.timeout_seconds)


def escalate(approval_id: str, level: int, now: float | None = None) -> StepResult:
    """After level `level` timed out: the next escalation level, or the final-timeout outcome.

    A retry (the level already moved on, or the approval closed) answers as the first call did.
    """
    record = load_approval(approval_id)
    if not record.is_pending:
        return record.step(record.final_outcome)
    if record.level != level:
        return record.step("wait")  # a retry of an escalation already done
    rule = rule_of(record)
    at = time.time() if now is None else now
    if level < len(rule.escalation):
        return _next_level(record, rule, at)
    return _time_out(record, rule)


def _next_level(record: ApprovalRecord, rule: ApprovalRule, at: float) -> StepResult:
    """The next level's people, with a fresh deadline and no decisions, task token or reminder."""
    level = record.level + 1
    approvers, quorum, timeout = level_of(rule, level)
    escalated = record.model_copy(
        update={
            "level": level,
            "approvers": approvers,
            "quorum": quorum,
            "timeout_seconds": timeout,
            "expires_at": int(at + timeout),
            "decisions": [],
            "task_token": None,
            "reminded_level": -1,
        }
    )
    event = {"approval_id": record.approval_id, "level": level, "approvers": approvers}
    commit_record(escalated, [("approval.escalated", event)])
    return escalated.step("wait")


def _time_out(record: ApprovalRecord, rule: ApprovalRule) -> StepResult:
    outcome = "fail" if rule.on_final_timeout == "fail" else "reject"
    closed = record.model_copy(
        update={
            "status": "TIMED_OUT",
            "outcome": outcome,
            "decided_at": now_iso(),
            "task_token": None,
        }
    )
    action, skip_event = skipped(
        closed, "APPROVAL_TIMED_OUT", f"nobody decided within the policy's timeouts ({rule.name})"
    )
    timed_out = {"approval_id": record.approval_id, "level": record.level, "outcome": outcome}
    commit_record(closed, [("approval.timed_out", timed_out), skip_event], action)
    return closed.step(outcome)
