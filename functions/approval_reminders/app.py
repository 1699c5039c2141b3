"""approval_reminders: nudge the approvers of approvals still pending (scheduled).

An EventBridge rule runs this every few minutes. An approval is due once its process's
`remind_after` share of the current level's timeout has passed; its approvers get one reminder
per level (email and Slack, with their own links), claimed by a conditional write first, so
overlapping runs never send twice. The clock is the scheduled event's `time`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aios import notifications
from aios.ledger import bind_ledger
from aios.settings import load_settings
from aios.tracing import new_tracer
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict

logger = Logger()
tracer = new_tracer()
metrics = Metrics()
settings = load_settings().require("ledger_table", "approvals_secret_arn")
bind_ledger(settings.ledger_table)


class ScheduledEvent(BaseModel):
    """The part of EventBridge's scheduled event this function reads: its clock."""

    model_config = ConfigDict(extra="ignore")

    time: datetime | None = None
    """ISO 8601, e.g. "2026-01-01T12:00:00Z"; without it, now."""


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    scheduled = ScheduledEvent.model_validate(event)
    now = scheduled.time.timestamp() if scheduled.time else None
    env = load_settings()  # the public URL may be set after the cold start
    reminded = notifications.send_reminders(env, now)
    for reminder in reminded:
        record = reminder.approval
        logger.info(
            "approvers reminded",
            extra={
                "case_id": record.case_id,
                "action_id": record.action_id,
                "level": record.level,
                "reminded": reminder.sent,
            },
        )
        metrics.add_metric(
            name="ApprovalReminders", unit=MetricUnit.Count, value=len(reminder.sent)
        )
    return {
        "reminded": [
            {"approval_id": r.approval.approval_id, "level": r.approval.level, "approvers": r.sent}
            for r in reminded
        ]
    }
