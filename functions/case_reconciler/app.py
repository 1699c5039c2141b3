"""case_reconciler: scheduled search for stuck and drifting cases and actions, with repairs.

An EventBridge rule runs it every few minutes; its clock is the scheduled event's `time`. Each
finding is recorded once on its case's audit chain (repairs in the same transaction); each
kind is a metric per run (how many were found), so the alarms see what is stuck now.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aios.ledger import bind_ledger
from aios.reconciler import reconcile
from aios.settings import load_settings
from aios.signals import emit_signal
from aios.tracing import new_tracer
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict

logger = Logger()
tracer = new_tracer()
metrics = Metrics()
settings = load_settings().require("ledger_table", "state_machine_arn")
bind_ledger(settings.ledger_table)

# Finding kind -> the metric that counts it in a run.
METRICS = {
    "received_without_execution": "CasesWithoutExecution",
    "execution_ended": "ExecutionsEnded",
    "approval_past_sla": "ApprovalsPastSla",
    "handoff_past_sla": "HandoffsPastSla",
    "action_dead_lettered": "ActionsDeadLettered",
    "action_drift": "ActionDrift",
}


class ScheduledEvent(BaseModel):
    """The part of EventBridge's scheduled event this function reads: its clock."""

    model_config = ConfigDict(extra="ignore")

    time: datetime | None = None


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    scheduled = ScheduledEvent.model_validate(event)
    now = scheduled.time or datetime.now(UTC)
    report = reconcile(settings, now)
    for finding in report.findings:
        logger.warning(
            "reconciler finding",
            extra={"case_id": finding.case_id, **finding.model_dump(exclude={"case_id"})},
        )
    counts = report.counts
    for kind, count in counts.items():
        emit_signal(METRICS[kind], count)
    emit_signal("CasesStuck", counts["received_without_execution"] + counts["execution_ended"])
    metrics.add_metric(name="ReconcilerRepairs", unit=MetricUnit.Count, value=report.repairs)
    logger.info(
        "reconciled",
        extra={
            "cases_checked": report.cases_checked,
            "dead_letters_seen": report.dead_letters_seen,
            "drift_checked": report.drift_checked,
            "drift_errors": report.drift_errors,
            "counts": report.counts,
        },
    )
    return {**report.model_dump(mode="json"), "counts": report.counts}
