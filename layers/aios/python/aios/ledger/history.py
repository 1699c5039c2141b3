"""Recorded decisions of past cases, read back for `aios eval --from-ledger`.

There is no index by process: the reader scans the table for case items (a filter on `kind`
and `sk`), keeps the process's, newest first, and reads each one's items. A scan reads the
whole table, so this is an offline tool's read, never a request path's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aios.ledger.models import LedgerItem
from aios.ledger.repository import CASE_SK, load_case_items


@dataclass(frozen=True)
class RecordedDecision:
    """What the decision plane decided for one case, as the ledger holds it."""

    case_id: str
    created_at: str
    input: dict[str, Any]
    classification: dict[str, Any] | None
    actions: list[dict[str, Any]]
    """capability, params and gate of the first plan's actions, in order."""
    handoff: str | None


def recorded_decisions(process: str, limit: int = 50) -> list[RecordedDecision]:
    """The `limit` newest decided cases of `process` (cases never decided are skipped)."""
    cases = [
        item
        for item in LedgerItem.scan((LedgerItem.kind == "case") & (LedgerItem.sk == CASE_SK))
        if (item.data or {}).get("process") == process
    ]
    cases.sort(key=lambda item: item.created_at or "", reverse=True)
    decided: list[RecordedDecision] = []
    for case in cases:
        if len(decided) >= limit:
            break
        recorded = _decision(case)
        if recorded is not None:
            decided.append(recorded)
    return decided


def _decision(case: LedgerItem) -> RecordedDecision | None:
    case_id = case.pk.removeprefix("CASE#")
    plan: dict[str, Any] | None = None
    handoff: dict[str, Any] | None = None
    actions: list[tuple[int, dict[str, Any]]] = []
    first_plan = f"{case_id}.p1"
    for item in load_case_items(case_id):
        data = dict(item.data or {})
        if item.kind == "plan" and data.get("plan_id") == first_plan:
            plan = data
        elif item.kind == "handoff" and data.get("handoff", {}).get("handoff_id") in (
            first_plan,
            None,
        ):
            handoff = data  # the first round's handoff (a case may be handed off again later)
        elif item.kind == "action" and data.get("plan_id") == first_plan:
            actions.append(
                (
                    int(data["index"]),
                    {
                        "capability": data.get("capability"),
                        "params": data.get("params"),
                        "gate": data.get("gate"),
                    },
                )
            )
    if plan is None and handoff is None:
        return None
    source = plan if plan is not None else handoff or {}
    return RecordedDecision(
        case_id=case_id,
        created_at=case.created_at or "",
        input=dict((case.data or {}).get("input") or {}),
        classification=source.get("classification"),
        actions=[a for _, a in sorted(actions, key=lambda pair: pair[0])],
        handoff=str((handoff or {}).get("handoff", {}).get("reason")) if handoff else None,
    )
