"""Outcomes the execution plane reports in its task answers, recorded on the decision side.

An execution plane on its own (another account, `AIOS_DECISION_LEDGER=false`) cannot write the
case's audit chain: it records its applied records and entity writes in its own state table
and answers the case machine's task with the outcome (`recorded: false`). The case machine
hands the answers of its actions to finalize (in the output of the execution, which the
status change event of its SUCCEEDED carries), and `record_outcomes` writes each
one here: the action APPROVED -> APPLIED with its result and the `action.applied` event, once.
One stack records them at execution already (`recorded: true`); nothing is written twice.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aios.errors import LedgerConflict
from aios.ledger import action_status_update, commit, get_action


class ReportedOutcome(BaseModel):
    """One action's task answer, as the execute function sends it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    action_id: str
    status: str
    index: int = Field(ge=0)
    digest: str
    result: dict[str, Any] = Field(default_factory=dict)
    rules: list[str] = Field(default_factory=list)
    recorded: bool = True


def _reported(results: list[Any]) -> list[ReportedOutcome]:
    out: list[ReportedOutcome] = []
    for raw in results:
        if not isinstance(raw, dict) or raw.get("status") != "APPLIED" or "digest" not in raw:
            continue  # skipped actions (gate outcomes), and answers from before this field
        try:
            out.append(ReportedOutcome.model_validate(raw))
        except ValidationError:
            continue
    return [r for r in out if not r.recorded]


def record_outcomes(case_id: str, results: list[Any]) -> list[str]:
    """Record the applied actions an execution plane on its own reported; returns their ids.

    Only an action of this case with the reported id and digest, still APPROVED, moves to
    APPLIED (a compare-and-set with its audit event); anything else is left as it is."""
    done: list[str] = []
    for outcome in _reported(results):
        item = get_action(case_id, outcome.index)
        data = (item.data or {}) if item is not None else {}
        if item is None or item.status != "APPROVED":
            continue
        if data.get("action_id") != outcome.action_id or data.get("digest") != outcome.digest:
            continue
        event = {
            "action_id": outcome.action_id,
            "digest": outcome.digest,
            "result": outcome.result,
            "rules": outcome.rules,
            "reported_by": "execution",
        }
        update = action_status_update(
            case_id, outcome.index, "APPLIED", allowed_from=("APPROVED",), result=outcome.result
        )
        try:
            commit(case_id, [("action.applied", event)], ops=(update,))
        except LedgerConflict:
            continue  # a retried Finalize found it recorded already
        done.append(outcome.action_id)
    return done
