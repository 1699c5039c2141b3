"""The execution reconciler: find cases and actions that are stuck or drifting, scheduled.

One run (`reconcile`) looks at every process's cases created within the lookback window (the
ledger's `ByProcess` index) and at the action dead-letter queue:

| kind | what | repair |
| --- | --- | --- |
| `received_without_execution` | RECEIVED past the grace period, no execution | start it |
| `execution_ended` | the execution is over, the ledger says running or handed off | FAILED (SUCCEEDED if it did) |
| `approval_past_sla` | an approval pending past its SLA | none (reported) |
| `handoff_past_sla` | a handed-off case nobody took within its SLA | none (reported) |
| `action_dead_lettered` | an action (or compensation) message in the dead-letter queue | fail its task at once |
| `action_drift` | an applied action's outside state differs (`read_state`) | none (reported) |

Each finding is recorded once (`aios.reconciler.findings`): an audit event on the case's chain
and, for a repair, the repair in the same transaction, so runs may overlap or repeat. Each
kind is also a count in the run's report (the handler emits them as metrics).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from aios.capabilities import Capability, get_capability
from aios.ledger import CaseRef, cases_by_process, get_case, iso
from aios.reconciler.dead_letters import reconcile_dead_letters
from aios.reconciler.drift import DriftCheck, check_drift
from aios.reconciler.executions import CHECKED, check_execution
from aios.reconciler.findings import KINDS, Finding
from aios.reconciler.sla import approvals_past_sla, handoff_past_sla
from aios.settings import Settings
from aios.specs import current_specs


class ReconcileReport(BaseModel):
    at: str
    cases_checked: int = 0
    dead_letters_seen: int = 0
    drift_checked: int = 0
    drift_errors: list[str] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Findings per kind in this run (each kind present, 0 when none)."""
        found = Counter(f.kind for f in self.findings)
        return {kind: found.get(kind, 0) for kind in KINDS}

    @property
    def repairs(self) -> int:
        """Repairs this run made (findings recorded now with a repair)."""
        return sum(1 for f in self.findings if f.recorded and f.repair)


def _open_cases(now: datetime, lookback: timedelta) -> list[CaseRef]:
    return [
        ref
        for process in sorted(current_specs())
        for ref in cases_by_process(process, now - lookback, now + timedelta(seconds=1))
        if ref.status in CHECKED
    ]


def _checkable(capability: Capability) -> bool:
    return capability.read_state is not None and not capability.needs_role


def _recent_cases(now: datetime, window: timedelta) -> list[CaseRef]:
    """Recent cases of the processes that use a capability with a state reader."""
    readable = sorted(
        name
        for name, spec in current_specs().items()
        if any(_checkable(get_capability(c)) for c in spec.capabilities)
    )
    return [
        ref
        for process in readable
        for ref in cases_by_process(process, now - window, now + timedelta(seconds=1))
    ]


def reconcile(settings: Settings, now: datetime) -> ReconcileReport:
    """One reconciler run at `now` (the scheduled event's time); see the module docstring."""
    report = ReconcileReport(at=iso(now))
    grace = iso(now - timedelta(seconds=settings.reconciler_grace_seconds))
    for ref in _open_cases(now, timedelta(days=settings.reconciler_lookback_days)):
        if ref.updated_at > grace:
            continue  # still moving: leave it to the case machine for now
        report.cases_checked += 1
        found = _check_case(ref, now, settings)
        report.findings.extend(found)
    if settings.action_dlq_url:
        dead, seen = reconcile_dead_letters(settings.action_dlq_url)
        report.findings.extend(dead)
        report.dead_letters_seen = seen
    drift = DriftCheck()
    since = now - timedelta(hours=settings.drift_window_hours)
    for ref in _recent_cases(now, timedelta(hours=settings.drift_window_hours)):
        check_drift(ref, since, settings, drift)
    report.drift_checked = drift.checked
    report.drift_errors = drift.errors
    report.findings.extend(drift.findings)
    return report


def _check_case(ref: CaseRef, now: datetime, settings: Settings) -> list[Finding]:
    if ref.status in CHECKED and settings.state_machine_arn:
        finding = check_execution(settings.state_machine_arn, ref.case_id)
        if finding is not None:
            return [finding]
    case = get_case(ref.case_id)
    if case.status == "WAITING_APPROVAL":
        return approvals_past_sla(case, now)
    if case.status == "HANDED_OFF":
        handed = handoff_past_sla(case, now)
        return [handed] if handed is not None else []
    return []


__all__ = ["KINDS", "Finding", "ReconcileReport", "reconcile"]
