"""Findings: what the reconciler found, each recorded once on the case's audit chain.

A finding is an audit event `reconciler.finding` ({kind, subject, ...detail}) written together
with a `FINDING#<kind>#<subject>` item in one ledger transaction: a later run that finds the
same thing fails on the existing item and writes nothing, so every repair and every event
happens at most once, however often and however concurrently the reconciler runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from aios.errors import CaseNotFound, LedgerConflict
from aios.ledger import CaseRecord, Put, Update, commit, now_iso, stage_finding, transition_case

Kind = Literal[
    "received_without_execution",
    "execution_ended",
    "approval_past_sla",
    "handoff_past_sla",
    "action_dead_lettered",
    "action_drift",
]
KINDS: tuple[Kind, ...] = (
    "received_without_execution",
    "execution_ended",
    "approval_past_sla",
    "handoff_past_sla",
    "action_dead_lettered",
    "action_drift",
)
EVENT = "reconciler.finding"


class Finding(BaseModel):
    kind: Kind
    case_id: str
    subject: str
    detail: dict[str, Any] = Field(default_factory=dict)
    repair: str | None = None
    """What the reconciler did about it (None: reported only)."""
    recorded: bool = False
    """Whether this run recorded it (False: an earlier run had, or the case is gone)."""


def record(
    finding: Finding,
    *,
    events: Sequence[tuple[str, dict[str, Any]]] = (),
    ops: Sequence[Put | Update] = (),
    to_status: str | None = None,
    from_statuses: Sequence[str] = (),
    data: Callable[[CaseRecord], dict[str, Any]] | None = None,
) -> Finding:
    """Record the finding (with `events`, `ops` and an optional case transition) once."""
    event = (
        EVENT,
        {
            "kind": finding.kind,
            "subject": finding.subject,
            **({"repair": finding.repair} if finding.repair else {}),
            **finding.detail,
        },
    )
    item = stage_finding(finding.case_id, finding.kind, finding.subject, event[1], now_iso())
    try:
        if to_status is None:
            commit(finding.case_id, [event, *events], ops=(item, *ops))
        else:
            transition_case(
                finding.case_id,
                [event, *events],
                to_status=to_status,
                from_statuses=from_statuses,
                data=data,
                ops=(item, *ops),
            )
    except (LedgerConflict, CaseNotFound):
        return finding.model_copy(update={"recorded": False})
    return finding.model_copy(update={"recorded": True})
