"""The typed handoff record: what a handoff item of the ledger holds.

Decide writes it WAITING when it gives a case up (see `aios.planning`); the handoff function
keeps the task token and who was notified; an operator's move or the final timeout closes it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from aios.errors import HandoffNotFound
from aios.ledger import CaseRecord, LedgerItem, get_handoff, load_case_items

HandoffStatus = Literal["WAITING", "RETURNED", "ACTED", "RESOLVED", "CANCELLED", "TIMED_OUT"]
Move = Literal["return", "manual", "resolve", "cancel"]
STATUS_OF_MOVE: dict[str, HandoffStatus] = {
    "return": "RETURNED",
    "manual": "ACTED",
    "resolve": "RESOLVED",
    "cancel": "CANCELLED",
}


class HandoffRecord(BaseModel):
    """One handoff of a case: why, for how long, who was told, and what a person did."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    case_id: str
    handoff_id: str
    process: str = ""
    status: HandoffStatus
    version: int = 0
    reason: str
    detail: str = ""
    summary: str = ""
    sla_seconds: int
    timeout_seconds: int
    handed_off_at: float
    classification: dict[str, Any] | None = None
    usage: dict[str, Any] | None = None
    proposal: dict[str, Any] | None = None
    context_memories: list[str] = Field(default_factory=list)
    memory_summary: str | None = None
    notified: list[str] = Field(default_factory=list)
    notified_at: str | None = None
    reminded: list[str] = Field(default_factory=list)
    reminded_at: str | None = None
    move: dict[str, Any] | None = None
    waiting_task: bool = False
    """Whether the case machine's task token is kept (the token itself never leaves here)."""

    @property
    def due_at(self) -> float:
        """When the SLA passes (epoch seconds)."""
        return self.handed_off_at + self.sla_seconds

    @property
    def expires_at(self) -> float:
        """When the wait times out (epoch seconds)."""
        return self.handed_off_at + self.timeout_seconds

    @classmethod
    def from_item(cls, item: LedgerItem) -> HandoffRecord:
        data = dict(item.data or {})
        handoff = dict(data.get("handoff") or {})
        return cls.model_validate(
            {
                **data,
                **handoff,
                "case_id": item.pk.removeprefix("CASE#"),
                "status": item.status,
                "version": int(item.seq or 0),
                "waiting_task": bool(item.task_token),
            }
        )


def load_handoff(case_id: str, handoff_id: str) -> tuple[HandoffRecord, LedgerItem]:
    """The handoff record and its item (for a compare-and-set); HandoffNotFound if absent."""
    item = get_handoff(case_id, handoff_id)
    if item is None:
        raise HandoffNotFound(f"case {case_id} has no handoff {handoff_id!r}")
    return HandoffRecord.from_item(item), item


def current_handoff_id(case: CaseRecord) -> str:
    """The handoff the case waits on (or last waited on); HandoffNotFound if it never did."""
    handoff_id = str((case.data.get("handoff") or {}).get("handoff_id") or "")
    if not handoff_id:
        raise HandoffNotFound(f"case {case.case_id} was never handed off")
    return handoff_id


def handoffs_of(items: list[LedgerItem]) -> list[HandoffRecord]:
    """Every handoff among a case's items, oldest first."""
    found = [HandoffRecord.from_item(i) for i in items if i.kind == "handoff"]
    return sorted(found, key=lambda h: h.handed_off_at)


def decisions_so_far(case_id: str) -> int:
    """How many rounds the case was decided in (each left a plan or a handoff)."""
    return sum(1 for i in load_case_items(case_id) if i.kind in ("plan", "handoff"))


def token_of(item: LedgerItem) -> str | None:
    """The task token kept on a handoff item, for answering the waiting task."""
    return item.task_token or None


__all__ = [
    "STATUS_OF_MOVE",
    "HandoffNotFound",
    "HandoffRecord",
    "HandoffStatus",
    "Move",
    "current_handoff_id",
    "decisions_so_far",
    "handoffs_of",
    "load_handoff",
    "token_of",
]
