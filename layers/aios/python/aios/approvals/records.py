"""The approval record: one typed model of the approval item's data, how it is read and kept.

The record names its action by id, index and digest, the rule that asked for it, the current
escalation level (its approvers, quorum and deadline) and the decisions made at that level.
`status` and `version` are the ledger item's own (status column, `seq`), not part of the data.
"""

from __future__ import annotations

import time
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from aios.errors import ActionChanged, AlreadyDecided, ApprovalNotFound, LedgerConflict
from aios.ledger import LedgerItem, get_action
from aios.ledger.approvals import (
    KIND,
    ActionChange,
    commit_approval,
    get_approval,
    update_approval,
)
from aios.specs import ApprovalRule, get_spec

Decision = Literal["approve", "reject", "changes"]
# "changes": the case goes back to Decide with the comment, at most `max_change_rounds` times.
DECISIONS: tuple[Decision, ...] = ("approve", "reject", "changes")
ApprovalStatus = Literal["PENDING", "APPROVED", "REJECTED", "CHANGES_REQUESTED", "TIMED_OUT"]
FINAL: dict[Decision, ApprovalStatus] = {
    "approve": "APPROVED",
    "reject": "REJECTED",
    "changes": "CHANGES_REQUESTED",
}
Via = Literal["link", "slack", "console"]
COMMENT_MAX_CHARS = 2000


class DecisionEntry(BaseModel):
    """One approver's decision at the record's current level."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    approver: str
    decision: Decision
    comment: str = ""
    at: str
    via: Via = "link"


class StepResult(BaseModel):
    """What the state machine gets: the outcome and, while waiting, the level and its timeout."""

    model_config = ConfigDict(frozen=True)

    approval_id: str
    outcome: str
    level: int
    timeout_seconds: int
    process: str
    attestation: dict[str, Any] | None = None
    """The signed human attestation of an approved action (the case machine carries it)."""


class ApprovalRecord(BaseModel):
    """The data of an approval item, with the item's status and version."""

    model_config = ConfigDict(extra="forbid")

    approval_id: str
    case_id: str
    action_id: str
    index: int
    digest: str
    process: str
    rule: str
    level: int = 0
    approvers: list[str]
    quorum: int
    timeout_seconds: int
    requested_at: float
    expires_at: int
    decisions: list[DecisionEntry] = Field(default_factory=list)
    notified: list[str] = Field(default_factory=list)
    reminded_level: int = -1
    reminded_at: str | None = None
    round: int = 0
    """How many earlier approvals of the case requested changes."""
    task_token: str | None = None
    outcome: str | None = None
    decided_by: str | None = None
    decided_at: str | None = None
    comment: str | None = None
    """The reviewer's comment of a request for changes."""
    attestation: dict[str, Any] | None = None
    """Once approved: the signed human attestation (`aios.attestations.SignedAttestation`)."""

    status: ApprovalStatus = Field(default="PENDING", exclude=True)
    version: int = Field(default=0, exclude=True)

    @classmethod
    def from_item(cls, item: LedgerItem) -> ApprovalRecord:
        return cls.model_validate(
            {**(item.data or {}), "status": item.status or "PENDING", "version": item.seq or 0}
        )

    def data(self) -> dict[str, Any]:
        """The item's `data`: every field but status and version, none of them null."""
        return self.model_dump(mode="json", exclude_none=True)

    @property
    def is_pending(self) -> bool:
        return self.status == "PENDING"

    def is_expired(self, now: float | None = None) -> bool:
        """Whether the current level's deadline has passed."""
        return (time.time() if now is None else now) >= self.expires_at

    @property
    def level_started_at(self) -> int:
        return self.expires_at - self.timeout_seconds

    @property
    def approved_by(self) -> list[str]:
        return [d.approver for d in self.decisions if d.decision == "approve"]

    @property
    def rejections(self) -> int:
        return sum(1 for d in self.decisions if d.decision == "reject")

    def decision_of(self, approver: str) -> DecisionEntry | None:
        return next((d for d in self.decisions if d.approver == approver), None)

    @property
    def final_outcome(self) -> str:
        """The outcome of a closed approval, as the state machine knows it."""
        named = {"APPROVED": "approved", "CHANGES_REQUESTED": "changes"}
        return named.get(self.status, self.outcome or "reject")

    def step(self, outcome: str) -> StepResult:
        return StepResult(
            approval_id=self.approval_id,
            outcome=outcome,
            level=self.level,
            timeout_seconds=self.timeout_seconds,
            process=self.process,
            attestation=self.attestation if outcome == "approved" else None,
        )

    def current_step(self) -> StepResult:
        """The answer to a retried step: "wait" while pending, else the outcome it closed with."""
        return self.step("wait" if self.is_pending else self.final_outcome)

    def closed(self) -> AlreadyDecided:
        """The error for a person who arrives after the approval closed."""
        if self.status == "TIMED_OUT":
            text = f"expired: nobody decided in time (closed at {self.decided_at})"
        else:
            outcome = self.status.lower().replace("_", " ")
            text = f"already decided by {self.decided_by} at {self.decided_at} ({outcome})"
        return AlreadyDecided(text, by=self.decided_by, at=self.decided_at)


class ActionOutcome(NamedTuple):
    """What a closed approval does to its action: APPROVED with the human attestation, or
    SKIPPED with the reason."""

    status: Literal["APPROVED", "SKIPPED"]
    attestation: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


Event = tuple[str, dict[str, Any]]


def approval_id_for(action_id: str) -> str:
    return action_id


def case_id_of(approval_id: str) -> str:
    """`<case>.p<n>.a<i>` -> `<case>`; ApprovalNotFound for anything else."""
    parts = approval_id.split(".")
    if len(parts) != 3 or not parts[1][1:].isdigit() or not parts[2][1:].isdigit():
        raise ApprovalNotFound(f"no approval {approval_id!r}")
    return parts[0]


def find_approval(approval_id: str) -> ApprovalRecord | None:
    item = get_approval(case_id_of(approval_id), approval_id)
    return None if item is None else ApprovalRecord.from_item(item)


def load_approval(approval_id: str) -> ApprovalRecord:
    """The record (a consistent read); ApprovalNotFound if there is none."""
    record = find_approval(approval_id)
    if record is None:
        raise ApprovalNotFound(f"no approval {approval_id!r}")
    return record


def rule_of(record: ApprovalRecord) -> ApprovalRule:
    """The rule of its process's policy that the approval was opened under."""
    return next(r for r in get_spec(record.process).policy.approval.rules if r.name == record.rule)


def changes_allowed(record: ApprovalRecord) -> bool:
    """Whether a reviewer of this approval may still request changes (the policy's rounds)."""
    return record.round < rule_of(record).max_change_rounds


def store_task_token(approval_id: str, level: int, task_token: str) -> ApprovalRecord:
    """Keep the state machine's task token server-side (never in a link), while the approval
    is pending at `level`; returns the record."""
    record = load_approval(approval_id)
    if not record.is_pending or record.level != level:
        return record
    stored = record.model_copy(update={"task_token": task_token})
    update_approval(record.case_id, approval_id, stored.data(), record.status, record.version)
    return stored


def mark_notified(approval_id: str, approvers: list[str]) -> None:
    """Remember who was notified; losing a race to another write is harmless."""
    record = load_approval(approval_id)
    notified = sorted({*record.notified, *approvers})
    stored = record.model_copy(update={"notified": notified})
    try:
        update_approval(record.case_id, approval_id, stored.data(), record.status, record.version)
    except LedgerConflict:
        return


def approvals_in(items: list[LedgerItem]) -> list[ApprovalRecord]:
    """The approval records among a case's ledger items."""
    return [ApprovalRecord.from_item(i) for i in items if i.kind == KIND]


def skipped(record: ApprovalRecord, code: str, message: str) -> tuple[ActionOutcome, Event]:
    """The action's skip (its error) and the `action.skipped` event that records it."""
    event = ("action.skipped", {"action_id": record.action_id, "reason": message, "code": code})
    return ActionOutcome("SKIPPED", error={"code": code, "message": message}), event


def commit_record(
    record: ApprovalRecord, events: list[Event], action: ActionOutcome | None = None
) -> None:
    """One transaction: `record` (a compare-and-set on the version it was read at, while
    pending), its action if it closes (only while the action's digest is still the one the
    approval was asked for), the case back to RUNNING when it closes, and `events`."""
    change = None if action is None else _action_change(record, action)
    commit_approval(
        record.case_id,
        record.approval_id,
        record.data(),
        status=record.status,
        version=record.version,
        events=events,
        action=change,
        case_move=None if record.is_pending else ("WAITING_APPROVAL", "RUNNING"),
    )


def _action_change(record: ApprovalRecord, outcome: ActionOutcome) -> ActionChange:
    stored = get_action(record.case_id, record.index)
    data = dict((stored.data if stored is not None else None) or {})
    if data.get("digest") != record.digest:
        raise ActionChanged(f"action {record.action_id} changed since its approval was requested")
    if outcome.attestation is None:
        return ActionChange(record.index, outcome.status, error=outcome.error)
    data["attestation"] = outcome.attestation
    return ActionChange(record.index, outcome.status, data=data, error=outcome.error)
