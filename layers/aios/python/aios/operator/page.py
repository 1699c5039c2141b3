"""The case page: everything a person needs to take a case over, from the verified ledger.

Built from the case's items and its audit chain (with the chain verifier's verdict), never
from the state machine: input, classification, plans, actions (status, attestation, result,
error), model usage and cost, approvals (who decided what, when), the handoff (reason, detail,
holder, SLA) and the timeline.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field

from aios.audit import verify_chain
from aios.cases import case_links
from aios.handoffs.records import HandoffRecord, handoffs_of
from aios.ledger import LedgerItem, get_case, load_audit, load_case_items


class ActionView(BaseModel):
    model_config = ConfigDict(frozen=True)

    action_id: str
    index: int
    plan_id: str
    capability: str
    params: dict[str, Any]
    risk: str
    reason: str = ""
    gate: str
    status: str
    attestation: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    updated_at: str | None = None


class ApprovalView(BaseModel):
    model_config = ConfigDict(frozen=True)

    approval_id: str
    action_id: str
    status: str
    rule: str | None = None
    approvers: list[str] = Field(default_factory=list)
    quorum: int | None = None
    level: int = 0
    decisions: list[dict[str, Any]] = Field(default_factory=list)
    """Who decided what, when: `{approver, decision, comment, at, via}`."""
    decided_by: str | None = None
    decided_at: str | None = None
    expires_at: str | None = None


class HandoffView(BaseModel):
    model_config = ConfigDict(frozen=True)

    handoff_id: str
    status: str
    reason: str
    detail: str = ""
    handed_off_at: str
    sla_seconds: int
    due_at: str
    overdue: bool
    timeout_seconds: int
    expires_at: str
    notified: list[str] = Field(default_factory=list)
    reminded: list[str] = Field(default_factory=list)
    proposal: dict[str, Any] | None = None
    """What the model proposed before the case was handed off (unsigned), if anything."""
    context_memories: list[str] = Field(default_factory=list)
    memory_summary: str | None = None
    move: dict[str, Any] | None = None
    """What a person (or the timeout) did: `{move, operator, note, at, ...}`."""
    holder: str | None = None
    """Who holds the case while this handoff waits."""


class PlanView(BaseModel):
    model_config = ConfigDict(frozen=True)

    plan_id: str
    status: str
    summary: str
    classification: dict[str, Any] | None = None
    revision: dict[str, Any] | None = None
    """What asked for this plan: a reviewer's changes or an operator's move."""
    expires_at: str | None = None


class CasePage(BaseModel):
    """A case as an operator sees it."""

    model_config = ConfigDict(frozen=True)

    case_id: str
    process: str
    tenant: str
    status: str
    input: dict[str, Any]
    created_at: str
    updated_at: str
    holder: str | None = None
    classification: dict[str, Any] | None = None
    plans: list[PlanView] = Field(default_factory=list)
    actions: list[ActionView] = Field(default_factory=list)
    usage: list[dict[str, Any]] = Field(default_factory=list)
    """Model usage per decision, in order (each with calls, tokens, cost_usd)."""
    cost_usd: float = 0.0
    approvals: list[ApprovalView] = Field(default_factory=list)
    handoff: HandoffView | None = None
    """The handoff the case waits on, or last waited on."""
    handoffs: list[HandoffView] = Field(default_factory=list)
    error: dict[str, Any] | None = None
    compensation: dict[str, Any] | None = None
    resolution: dict[str, Any] | None = None
    timeline: list[dict[str, Any]] = Field(default_factory=list)
    """The audit events in order: `{seq, type, at, data, prev_hash, hash}`."""
    chain: dict[str, Any] = Field(default_factory=dict)
    """The verifier's verdict on the chain: `{valid, length, head, problem?, seq?}`."""
    links: dict[str, str] = Field(default_factory=dict)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def plan(self) -> PlanView | None:
        """The latest plan."""
        return self.plans[-1] if self.plans else None


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def handoff_view(record: HandoffRecord, now: float | None = None) -> HandoffView:
    at = datetime.now(UTC).timestamp() if now is None else now
    return HandoffView(
        handoff_id=record.handoff_id,
        status=record.status,
        reason=record.reason,
        detail=record.detail,
        handed_off_at=_iso(record.handed_off_at),
        sla_seconds=record.sla_seconds,
        due_at=_iso(record.due_at),
        overdue=record.status == "WAITING" and at > record.due_at,
        timeout_seconds=record.timeout_seconds,
        expires_at=_iso(record.expires_at),
        notified=record.notified,
        reminded=record.reminded,
        proposal=record.proposal,
        context_memories=record.context_memories,
        memory_summary=record.memory_summary,
        move=record.move,
    )


def _action(item: LedgerItem) -> ActionView:
    data = dict(item.data or {})
    return ActionView(
        action_id=str(data.get("action_id")),
        index=int(data.get("index", 0)),
        plan_id=str(data.get("plan_id")),
        capability=str(data.get("capability")),
        params=dict(data.get("params") or {}),
        risk=str(data.get("risk")),
        reason=str(data.get("reason") or ""),
        gate=str(data.get("gate")),
        status=item.status or "",
        attestation=data.get("attestation"),
        result=item.result,
        error=item.error,
        updated_at=item.updated_at,
    )


def _approval(item: LedgerItem) -> ApprovalView:
    data = dict(item.data or {})
    expires = data.get("expires_at")
    return ApprovalView(
        approval_id=str(data.get("approval_id")),
        action_id=str(data.get("action_id")),
        status=item.status or "",
        rule=data.get("rule"),
        approvers=list(data.get("approvers") or []),
        quorum=data.get("quorum"),
        level=int(data.get("level", 0)),
        decisions=list(data.get("decisions") or []),
        decided_by=data.get("decided_by"),
        decided_at=data.get("decided_at"),
        expires_at=_iso(float(expires)) if expires else None,
    )


def _plan(item: LedgerItem) -> PlanView:
    data = dict(item.data or {})
    envelope = (data.get("signed") or {}).get("envelope") or {}
    return PlanView(
        plan_id=str(data.get("plan_id")),
        status=item.status or "",
        summary=str(data.get("summary") or ""),
        classification=data.get("classification"),
        revision=data.get("revision"),
        expires_at=envelope.get("expires_at"),
    )


def _round_number(plan_or_handoff_id: str) -> int:
    """`<case>.p3` -> 3: decisions in the order they were made."""
    tail = plan_or_handoff_id.rsplit(".p", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def case_page(case_id: str) -> CasePage:
    """The case page (CaseNotFound if there is no such case)."""
    case = get_case(case_id)
    items = load_case_items(case_id)
    plans = sorted((i for i in items if i.kind == "plan"), key=lambda i: _round_number(i.sk))
    decisions = sorted(
        (i for i in items if i.kind in ("plan", "handoff")), key=lambda i: _round_number(i.sk)
    )
    usage = [dict((i.data or {}).get("usage") or {}) for i in decisions]
    classification = next(
        (
            (i.data or {}).get("classification")
            for i in reversed(decisions)
            if (i.data or {}).get("classification")
        ),
        None,
    )
    handoffs = [handoff_view(h) for h in handoffs_of(items)]
    current = str((case.data.get("handoff") or {}).get("handoff_id") or "")
    events = load_audit(case_id)
    verdict = verify_chain(events, case.seq, case.head)
    return CasePage(
        case_id=case_id,
        process=str(case.data.get("process")),
        tenant=str(case.data.get("tenant")),
        status=case.status,
        input=dict(case.data.get("input") or {}),
        created_at=case.created_at,
        updated_at=case.updated_at,
        holder=case.holder,
        classification=classification,
        plans=[_plan(i) for i in plans],
        actions=[_action(i) for i in items if i.kind == "action"],
        usage=usage,
        cost_usd=round(sum(float(u.get("cost_usd") or 0) for u in usage), 8),
        approvals=[_approval(i) for i in items if i.kind == "approval"],
        handoff=next(
            (
                h.model_copy(update={"holder": case.holder})
                for h in handoffs
                if h.handoff_id == current
            ),
            None,
        ),
        handoffs=handoffs,
        error=case.data.get("error"),
        compensation=case.data.get("compensation"),
        resolution=case.data.get("resolution"),
        timeline=[e.model_dump(exclude={"case_id"}) for e in events],
        chain=verdict.model_dump(exclude_none=True),
        links=case_links(case_id),
    )
