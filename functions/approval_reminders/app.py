"""approval_reminders: nudge the approvers of approvals still pending (scheduled).

An EventBridge rule runs this every few minutes. An approval is due once its process's
`remind_after` share of the current level's timeout has passed; its approvers get one reminder
per level (email and Slack, with their own links), claimed by a conditional write first, so
overlapping runs never send twice. The clock is the scheduled event's `time`.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from aios import approvals, notifications
from aios.ledger import bind_ledger
from aios.settings import load_settings
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
tracer = Tracer()
metrics = Metrics()
settings = load_settings().require("ledger_table", "approvals_secret_arn")
bind_ledger(settings.ledger_table)


def _clock(event: dict[str, Any]) -> float:
    """The scheduled event's time (ISO 8601, e.g. "2026-01-01T12:00:00Z"), else now."""
    stamp = event.get("time")
    if isinstance(stamp, str) and stamp:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    return time.time()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    env = load_settings()  # the public URL may be set after the cold start
    reminded: list[dict[str, Any]] = []
    for item in approvals.due_reminders(_clock(event)):
        data = dict(item.data or {})
        if not approvals.claim_reminder(item):
            continue  # another run, a decision or an escalation got there first
        sent = notifications.notify_approvers(
            data["approval_id"], list(data["approvers"]), env, reminder=True
        )
        logger.info(
            "approvers reminded",
            extra={
                "case_id": data["case_id"],
                "action_id": data["action_id"],
                "level": data["level"],
                "reminded": sent,
            },
        )
        metrics.add_metric(name="ApprovalReminders", unit=MetricUnit.Count, value=len(sent))
        reminded.append(
            {"approval_id": data["approval_id"], "level": data["level"], "approvers": sent}
        )
    return {"reminded": reminded}
