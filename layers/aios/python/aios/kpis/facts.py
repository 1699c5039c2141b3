"""What one case contributes to the KPIs, read from its ledger items (the truth).

Everything is taken from the committed record: the audit chain says when people stepped in and
what was applied or undone; the action items say which model and prompt version proposed each
action and what attested it; the approval items say how each approval ended; the plan and
handoff items hold the model usage and cost of each decision.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aios.ledger import LedgerItem

# Audit events that are a person acting on the case: an approval decision, or an operator's
# move (take, return, act by hand, resolve, cancel: `operator.*`).
HUMAN_EVENTS = frozenset({"approval.decided"})
HUMAN_PREFIX = "operator."
ROLLBACK_EVENTS = frozenset({"action.compensated", "action.reverted"})
HANDOFF_EVENT = "case.handed_off"
DECIDED = {"APPROVED": "approved", "REJECTED": "rejected", "CHANGES_REQUESTED": "changes"}

Attribution = tuple[str, str]
"""(model id, prompt version); ("", "") when no model proposed it."""


@dataclass(frozen=True)
class ActionFacts:
    action_id: str
    attribution: Attribution
    applied: bool
    rolled_back: bool
    automatic: bool
    """Applied on a policy attestation: no person stepped in."""


@dataclass(frozen=True)
class CaseFacts:
    case_id: str
    process: str
    created_at: datetime
    attribution: Attribution
    """The model and prompt version of the case's latest decision (plan or handoff)."""
    actions: list[ActionFacts] = field(default_factory=list)
    approvals: list[tuple[Attribution, str]] = field(default_factory=list)
    """(attribution of the approved action, outcome: approved, rejected, changes, other)."""
    first_human_at: datetime | None = None
    handoff_reasons: list[str] = field(default_factory=list)
    cost_usd: float = 0.0
    cache_hits: int = 0
    cache_misses: int = 0


def _attribution(data: dict[str, Any]) -> Attribution:
    return (str(data.get("model_id") or ""), str(data.get("prompt_version") or ""))


def _decision_attribution(decisions: list[dict[str, Any]]) -> Attribution:
    if not decisions:
        return ("", "")
    usage = decisions[-1].get("usage") or {}
    models, prompts = usage.get("models") or {}, usage.get("prompts") or {}
    return (str(models.get("plan") or ""), str(prompts.get("plan") or ""))


def _decision_round(decision: dict[str, Any]) -> int:
    """Plans by round (`<case>.p<n>`); a handoff ends the deciding, so it comes last."""
    plan_id = str(decision.get("plan_id") or "")
    suffix = plan_id.rsplit(".p", 1)[-1]
    return int(suffix) if plan_id and suffix.isdigit() else 1_000_000


def _handoff_reason(data: dict[str, Any]) -> str:
    handoff = data.get("handoff")
    reason = handoff.get("reason") if isinstance(handoff, dict) else data.get("reason")
    return str(reason or "UNKNOWN")


def case_facts(process: str, items: Iterable[LedgerItem]) -> CaseFacts:
    """The facts of one case from all of its ledger items (`load_case_items`)."""
    case: LedgerItem | None = None
    actions: list[LedgerItem] = []
    approvals: list[LedgerItem] = []
    decisions: list[dict[str, Any]] = []
    audit: list[LedgerItem] = []
    for item in items:
        if item.kind == "case":
            case = item
        elif item.kind == "action":
            actions.append(item)
        elif item.kind == "approval":
            approvals.append(item)
        elif item.kind in ("plan", "handoff"):
            decisions.append(dict(item.data or {}))
        elif item.kind == "audit":
            audit.append(item)
    if case is None:
        raise ValueError("the items hold no case")
    applied = {(i.data or {}).get("action_id") for i in audit if i.status == "action.applied"}
    undone = {(i.data or {}).get("action_id") for i in audit if i.status in ROLLBACK_EVENTS}
    human = [
        i.created_at
        for i in audit
        if i.created_at and (i.status in HUMAN_EVENTS or (i.status or "").startswith(HUMAN_PREFIX))
    ]
    by_action = {str((a.data or {}).get("action_id")): _attribution(a.data or {}) for a in actions}
    usages = [d.get("usage") or {} for d in decisions]
    decisions.sort(key=_decision_round)
    return CaseFacts(
        case_id=case.pk.removeprefix("CASE#"),
        process=process,
        created_at=datetime.fromisoformat(str(case.created_at)),
        attribution=_decision_attribution(decisions),
        actions=[_action_facts(a, applied, undone) for a in actions],
        approvals=[
            (
                by_action.get(str((a.data or {}).get("action_id")), ("", "")),
                DECIDED.get(a.status or "", "other"),
            )
            for a in approvals
        ],
        first_human_at=datetime.fromisoformat(min(human)) if human else None,
        handoff_reasons=[_handoff_reason(i.data or {}) for i in audit if i.status == HANDOFF_EVENT],
        cost_usd=sum(float(u.get("cost_usd") or 0) for u in usages),
        cache_hits=sum(int((u.get("cache") or {}).get("hits") or 0) for u in usages),
        cache_misses=sum(int((u.get("cache") or {}).get("misses") or 0) for u in usages),
    )


def _action_facts(item: LedgerItem, applied: set[Any], undone: set[Any]) -> ActionFacts:
    data = dict(item.data or {})
    action_id = str(data.get("action_id"))
    attestation = data.get("attestation") or {}
    was_applied = action_id in applied
    return ActionFacts(
        action_id=action_id,
        attribution=_attribution(data),
        applied=was_applied,
        rolled_back=was_applied and action_id in undone,
        automatic=was_applied and attestation.get("type") == "policy",
    )
