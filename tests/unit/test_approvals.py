"""Approvals against the ledger (moto, in-process): open once, decide once, quorum, attestation
bound to the digest, escalation, the final timeout and reminders claimed once."""

from __future__ import annotations

from typing import Any

import pytest
from aios import approvals
from aios.approvals.records import ApprovalRecord, commit_record
from aios.errors import (
    ActionChanged,
    AlreadyDecided,
    ChangesNotAllowed,
    InvalidDecision,
    LedgerConflict,
    LinkExpired,
    LinkForbidden,
)
from aios.ledger import LedgerItem, Put, commit, create_case, get_action, get_case, load_audit
from aios.ledger.approvals import approval_sk, get_approval

CASE = "c-1"
ACTION = f"{CASE}.p1.a0"


def _propose(params: dict[str, Any], digest: str = "d-1") -> None:
    """A running refund case whose plan proposed one http.post action."""
    create_case(
        CASE,
        "RUNNING",
        {"process": "refund-request", "input": {"order_id": "O-1"}},
        [("case.created", {})],
    )
    plan = {"plan_id": f"{CASE}.p1", "summary": "refund", "classification": {"confidence": 0.9}}
    action = {
        "action_id": ACTION, "plan_id": f"{CASE}.p1", "capability": "http.post",
        "params": params, "digest": digest, "risk": "medium", "reason": "damaged",
    }  # fmt: skip
    commit(
        CASE,
        [("plan.proposed", {"plan_id": plan["plan_id"]})],
        ops=(
            Put(LedgerItem(f"CASE#{CASE}", f"PLAN#{plan['plan_id']}", kind="plan", data=plan)),
            Put(LedgerItem(f"CASE#{CASE}", "ACTION#000", kind="action", status="PROPOSED", data=action)),
        ),
    )  # fmt: skip


def _events() -> list[str]:
    return [e.type for e in load_audit(CASE)]


def test_two_of_three_approve_and_the_action_is_attested_with_its_digest(ledger: str) -> None:
    _propose({"url": "https://x/refunds/O-1", "body": {"amount": 5000}})
    opened = approvals.open_approval(CASE, ACTION, 0)
    assert (opened.outcome, opened.level, opened.process) == ("wait", 0, "refund-request")
    assert get_case(CASE).status == "WAITING_APPROVAL"

    first = approvals.decide(ACTION, "finance-lead", "approve", now=opened_at(ACTION))
    assert (first.status, first.outcome, first.closed, first.task_token) == (
        "PENDING", "wait", False, None,
    )  # fmt: skip
    with pytest.raises(AlreadyDecided, match="already decided by finance-lead"):
        approvals.decide(ACTION, "finance-lead", "approve")
    with pytest.raises(LinkForbidden):
        approvals.decide(ACTION, "someone-else", "approve")

    approvals.store_task_token(ACTION, 0, "task-1")
    second = approvals.decide(ACTION, "cfo", "approve")
    assert (second.status, second.outcome, second.task_token) == ("APPROVED", "approved", "task-1")
    stored = get_action(CASE, 0)
    assert stored is not None and stored.status == "APPROVED"
    attestation = stored.data["attestation"]
    assert attestation["digest"] == "d-1" and attestation["approvers"] == ["finance-lead", "cfo"]
    assert attestation["type"] == "human" and attestation["quorum"] == 2
    assert get_case(CASE).status == "RUNNING"
    assert _events() == [
        "case.created", "plan.proposed", "approval.requested", "approval.decided", "approval.decided",
        "action.attested",
    ]  # fmt: skip
    with pytest.raises(AlreadyDecided, match=r"\(approved\)"):
        approvals.decide(ACTION, "finance-director", "approve")


def opened_at(approval_id: str) -> float:
    return approvals.load_approval(approval_id).requested_at


def test_opening_twice_answers_the_same_and_writes_once(ledger: str) -> None:
    _propose({"body": {"amount": 120}})
    assert approvals.open_approval(CASE, ACTION, 0) == approvals.open_approval(CASE, ACTION, 0)
    assert _events().count("approval.requested") == 1


def test_the_record_keeps_status_and_version_out_of_its_data(ledger: str) -> None:
    _propose({"body": {"amount": 120}})
    approvals.open_approval(CASE, ACTION, 0)
    item = get_approval(CASE, ACTION)
    assert item is not None and item.sk == approval_sk(ACTION)
    record = ApprovalRecord.from_item(item)
    assert (record.status, record.version, record.rule) == ("PENDING", 0, "refund-over-50")
    assert record.data() == item.data
    assert "status" not in item.data and "version" not in item.data


def test_a_decision_on_a_changed_action_is_refused_and_writes_nothing(ledger: str) -> None:
    _propose({"body": {"amount": 120}})
    approvals.open_approval(CASE, ACTION, 0)
    LedgerItem(f"CASE#{CASE}", "ACTION#000").update(
        actions=[LedgerItem.data.set({**get_action(CASE, 0).data, "digest": "d-2"})]  # type: ignore[union-attr]
    )
    with pytest.raises(ActionChanged):
        approvals.decide(ACTION, "finance-lead", "approve")
    assert approvals.load_approval(ACTION).is_pending
    assert get_action(CASE, 0).status == "PROPOSED"  # type: ignore[union-attr]


def test_a_stale_record_loses_the_compare_and_set(ledger: str) -> None:
    _propose({"body": {"amount": 120}})
    approvals.open_approval(CASE, ACTION, 0)
    stale = approvals.load_approval(ACTION)
    approvals.decide(ACTION, "finance-lead", "reject", "no")
    with pytest.raises(LedgerConflict):
        commit_record(stale.model_copy(update={"reminded_level": 0}), [("approval.reminded", {})])


def test_bad_decisions_are_refused_with_their_codes(ledger: str) -> None:
    _propose({"body": {"amount": 120}})
    approvals.open_approval(CASE, ACTION, 0)
    with pytest.raises(InvalidDecision) as bad:
        approvals.decide(ACTION, "finance-lead", "maybe")
    assert bad.value.code == "APPROVAL_INVALID_DECISION"
    with pytest.raises(InvalidDecision, match="what should change"):
        approvals.decide(ACTION, "finance-lead", "changes", "  ")
    with pytest.raises(LinkExpired):
        approvals.decide(ACTION, "finance-lead", "approve", now=opened_at(ACTION) + 86400)


def test_a_change_request_skips_the_action_and_tells_the_revision(ledger: str) -> None:
    _propose({"body": {"amount": 120}})
    approvals.open_approval(CASE, ACTION, 0)
    decided = approvals.decide(ACTION, "finance-lead", "changes", "lower it to 60")
    assert decided.status == "CHANGES_REQUESTED" and decided.revision is not None
    assert decided.revision.model_dump() == {
        "approval_id": ACTION, "round": 1, "max_rounds": 2, "on_exhausted": "continue",
        "comment": "lower it to 60",
    }  # fmt: skip
    assert approvals.revision(CASE) == decided.revision
    skipped = get_action(CASE, 0)
    assert skipped is not None and skipped.status == "SKIPPED"
    assert skipped.error["code"] == "CHANGES_REQUESTED"


def test_no_change_request_beyond_the_policys_rounds(ledger: str) -> None:
    _propose({"body": {"amount": 120}})
    approvals.open_approval(CASE, ACTION, 0)
    item = get_approval(CASE, ACTION)
    assert item is not None
    item.update(actions=[LedgerItem.data.set({**item.data, "round": 2})])
    assert not approvals.changes_allowed(approvals.load_approval(ACTION))
    with pytest.raises(ChangesNotAllowed):
        approvals.decide(ACTION, "finance-lead", "changes", "again")


def test_timeouts_escalate_then_reject_and_a_retry_answers_the_same(ledger: str) -> None:
    _propose({"body": {"amount": 120, "channel": "chat"}})
    opened = approvals.open_approval(CASE, ACTION, 0)
    assert opened.timeout_seconds == 4
    escalated = approvals.escalate(ACTION, 0, now=1000)
    assert (escalated.outcome, escalated.level) == ("wait", 1)
    record = approvals.load_approval(ACTION)
    assert record.approvers == ["finance-director"] and record.expires_at == 1004
    assert approvals.escalate(ACTION, 0, now=1001) == escalated  # a retried level-0 timeout
    closed = approvals.escalate(ACTION, 1, now=1005)
    assert closed.outcome == "reject"
    assert approvals.load_approval(ACTION).status == "TIMED_OUT"
    action = get_action(CASE, 0)
    assert action is not None and action.status == "SKIPPED"
    assert action.error["code"] == "APPROVAL_TIMED_OUT"
    assert approvals.escalate(ACTION, 1, now=1006) == closed
    with pytest.raises(AlreadyDecided, match="expired: nobody decided in time"):
        approvals.decide(ACTION, "finance-director", "approve")
    assert get_case(CASE).status == "RUNNING"


def test_a_reminder_is_due_after_the_share_and_claimed_once(ledger: str) -> None:
    _propose({"body": {"amount": 120}})
    approvals.open_approval(CASE, ACTION, 0)
    record = approvals.load_approval(ACTION)
    start = record.level_started_at
    assert not approvals.due_for_reminder(record, 0.5, now=start + 0.4 * 86400)
    assert [r.approval_id for r in approvals.due_reminders(now=start + 0.6 * 86400)] == [ACTION]
    assert approvals.claim_reminder(record)
    assert not approvals.claim_reminder(record)  # the stale copy loses
    assert approvals.due_reminders(now=start + 0.9 * 86400) == []
    assert _events().count("approval.reminded") == 1
