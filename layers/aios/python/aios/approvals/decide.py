"""Deciding: one approver's decision, applied at most once, as a compare-and-set on the record.

Each approver of the current level decides once. The decision that reaches the quorum moves
the action PROPOSED -> APPROVED with a human attestation bound to the action's digest; enough
rejections that the quorum is out of reach, or a request for changes, move it to SKIPPED. Both
happen in the same ledger transaction as the record's change and the audit events.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict

from aios.approvals.records import (
    COMMENT_MAX_CHARS,
    DECISIONS,
    FINAL,
    ActionOutcome,
    ApprovalRecord,
    ApprovalStatus,
    Decision,
    DecisionEntry,
    Event,
    Via,
    approvals_in,
    commit_record,
    load_approval,
    rule_of,
    skipped,
)
from aios.attestations import AttestationClaim, human_key_id, sign_human
from aios.errors import (
    AlreadyDecided,
    ChangesNotAllowed,
    InvalidDecision,
    LedgerConflict,
    LinkExpired,
    LinkForbidden,
    NoChangeRequest,
)
from aios.ledger import load_case_items, now_iso
from aios.specs import ApprovalRule, get_spec

ATTEMPTS = 3
REASON_MAX_CHARS = 500


class Revision(BaseModel):
    """After "request changes": what the state machine plans again with."""

    model_config = ConfigDict(frozen=True)

    approval_id: str
    round: int
    max_rounds: int
    on_exhausted: str
    comment: str


class Decided(BaseModel):
    """The result of one person's decision; `task_token` set when it closed the approval."""

    model_config = ConfigDict(frozen=True)

    approval_id: str
    approver: str
    status: ApprovalStatus
    outcome: str
    task_token: str | None
    latency_seconds: float | None
    process: str
    revision: Revision | None = None
    """On "request changes": what the state machine re-plans with (round, comment, limits)."""
    answered: bool | None = None
    """Whether the waiting task took the answer; None until answered, or with no task token."""
    attestation: dict[str, Any] | None = None
    """The signed human attestation when the decision approved the action."""

    @property
    def closed(self) -> bool:
        return self.status != "PENDING"


def decide(
    approval_id: str,
    approver: str,
    decision: str,
    comment: str = "",
    via: Via = "link",
    now: float | None = None,
) -> Decided:
    """Apply one approver's decision at most once.

    Raises AlreadyDecided (this approver, or the approval, decided already), LinkExpired,
    LinkForbidden (not an approver of the current level), ChangesNotAllowed or InvalidDecision.
    """
    choice = _decision(decision)
    for _ in range(ATTEMPTS):
        record = load_approval(approval_id)
        at = time.time() if now is None else now
        rule = _admit(record, approver, choice, comment, at)
        entry = DecisionEntry(
            approver=approver,
            decision=choice,
            comment=comment[:COMMENT_MAX_CHARS],
            at=now_iso(),
            via=via,
        )
        settled, events, action = _settle(record, entry, rule, comment)
        try:
            commit_record(settled, events, action)
        except LedgerConflict:
            continue  # another decision landed first: re-read and judge again
        return _decided(record, settled, entry, rule, at)
    raise AlreadyDecided("the approval changed while deciding; reload the page")


def _decision(decision: str) -> Decision:
    for choice in DECISIONS:
        if choice == decision:
            return choice
    raise InvalidDecision(f"decision must be one of {', '.join(DECISIONS)}")


def _admit(
    record: ApprovalRecord, approver: str, decision: Decision, comment: str, at: float
) -> ApprovalRule:
    """The rule, once this approver may decide now; else the error that says why not."""
    if not record.is_pending:
        raise record.closed()
    if approver not in record.approvers:
        raise LinkForbidden(f"{approver} is not an approver of this approval")
    mine = record.decision_of(approver)
    if mine is not None:
        raise AlreadyDecided(f"already decided by {approver} at {mine.at}", by=approver, at=mine.at)
    if record.is_expired(at):
        raise LinkExpired("the approval has expired")
    rule = rule_of(record)
    if decision == "changes" and record.round >= rule.max_change_rounds:
        raise ChangesNotAllowed(
            f"no more change rounds: the policy allows {rule.max_change_rounds}"
        )
    if decision == "changes" and not comment.strip():
        raise InvalidDecision("say in the comment what should change")
    return rule


def _settle(
    record: ApprovalRecord, entry: DecisionEntry, rule: ApprovalRule, comment: str
) -> tuple[ApprovalRecord, list[Event], ActionOutcome | None]:
    """The record with the decision added and, if it closes the approval, the action's fate."""
    counted = record.model_copy(update={"decisions": [*record.decisions, entry]})
    status, outcome = _tally(counted, entry.decision, rule)
    decided: Event = ("approval.decided", {"approval_id": record.approval_id, **entry.model_dump()})
    if status == "PENDING":
        return counted, [decided], None
    closing: dict[str, Any] = {
        "status": status,
        "outcome": outcome,
        "decided_by": entry.approver,
        "decided_at": entry.at,
        "task_token": None,
    }
    if entry.decision == "changes":
        closing["comment"] = entry.comment
    settled = counted.model_copy(update=closing)
    if status == "APPROVED":
        action, event = _attest(settled, rule, entry)
        signed = (action.attestation or {}).get("signed")
        settled = settled.model_copy(update={"attestation": signed})
    else:
        action, event = _skip(settled, status, entry, comment)
    return settled, [decided, event], action


def _tally(
    record: ApprovalRecord, decision: Decision, rule: ApprovalRule
) -> tuple[ApprovalStatus, str]:
    if decision == "changes":
        return "CHANGES_REQUESTED", "changes"
    if len(record.approved_by) >= record.quorum:
        return "APPROVED", "approved"
    if len(record.approvers) - record.rejections < record.quorum:
        return "REJECTED", "fail" if rule.on_reject == "fail" else "reject"
    return "PENDING", "wait"


def _attest(
    record: ApprovalRecord, rule: ApprovalRule, entry: DecisionEntry
) -> tuple[ActionOutcome, Event]:
    """The human attestation: who approved which digest under which rule of which spec
    (name, version, content hash), and when, signed with the human key (one KMS Sign per
    approved action); the ledger keeps its readable record with the signed attestation."""
    claim = AttestationClaim(
        type="human",
        case_id=record.case_id,
        plan_id=record.action_id.rsplit(".", 1)[0],
        action_digests=(record.digest,),
        spec=get_spec(record.process).ref,
        rule=rule.name,
        approvers=tuple(record.approved_by),
        quorum=record.quorum,
        approval_id=record.approval_id,
        issued_at=entry.at,
        key_id=human_key_id(),
    )
    signed = sign_human(claim)
    attestation = {**claim.record(record.digest), "signed": signed}
    event = ("action.attested", {"action_id": record.action_id, **attestation})
    return ActionOutcome("APPROVED", attestation=attestation), event


def _skip(
    record: ApprovalRecord, status: ApprovalStatus, entry: DecisionEntry, comment: str
) -> tuple[ActionOutcome, Event]:
    code = "APPROVAL_REJECTED" if status == "REJECTED" else "CHANGES_REQUESTED"
    verdict = FINAL[entry.decision].lower().replace("_", " ")
    message = f"{verdict} by {entry.approver}: {comment[:REASON_MAX_CHARS]}".rstrip(": ")
    return skipped(record, code, message)


def _decided(
    read: ApprovalRecord,
    settled: ApprovalRecord,
    entry: DecisionEntry,
    rule: ApprovalRule,
    at: float,
) -> Decided:
    closed = not settled.is_pending
    revision = None
    if settled.status == "CHANGES_REQUESTED":
        revision = _revision(settled, rule, settled.round + 1, entry.comment)
    return Decided(
        approval_id=settled.approval_id,
        approver=entry.approver,
        status=settled.status,
        outcome=settled.outcome or "wait",
        task_token=read.task_token if closed else None,
        latency_seconds=at - read.requested_at if closed else None,
        process=settled.process,
        revision=revision,
        attestation=settled.attestation,
    )


def _revision(record: ApprovalRecord, rule: ApprovalRule, round: int, comment: str) -> Revision:
    return Revision(
        approval_id=record.approval_id,
        round=round,
        max_rounds=rule.max_change_rounds,
        on_exhausted=rule.on_reject,
        comment=comment,
    )


def revision(case_id: str) -> Revision:
    """The latest request for changes of a case, from the ledger: the round (how many so far),
    the reviewer's comment, and the limits of the rule (`max_rounds`, `on_exhausted`)."""
    changed = [a for a in approvals_in(load_case_items(case_id)) if a.status == "CHANGES_REQUESTED"]
    if not changed:
        raise NoChangeRequest(f"case {case_id} has no request for changes")
    latest = max(changed, key=lambda a: a.round)
    return _revision(latest, rule_of(latest), len(changed), latest.comment or "")
