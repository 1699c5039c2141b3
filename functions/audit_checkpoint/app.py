"""audit_checkpoint: anchor the audit chains outside the ledger (scheduled).

An EventBridge rule runs this every `audit_checkpoint_minutes`. It lists the chains whose heads
moved since the previous checkpoint (the ledger's sparse `AuditPeriods` index, no scan),
signs their heads with the checkpoint key and stores the checkpoint in the Object Lock bucket
under COMPLIANCE retention (aios.anchor). The clock is the scheduled event's `time`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aios.anchor import take_checkpoint
from aios.aws import client
from aios.ledger import bind_ledger
from aios.settings import load_settings
from aios.tracing import new_tracer
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict

logger = Logger()
tracer = new_tracer()
metrics = Metrics()
settings = load_settings().require("ledger_table", "audit_bucket", "audit_key_id")
bind_ledger(settings.ledger_table)


class ScheduledEvent(BaseModel):
    """The part of EventBridge's scheduled event this function reads: its clock."""

    model_config = ConfigDict(extra="ignore")

    time: datetime | None = None


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    now = ScheduledEvent.model_validate(event).time or datetime.now(UTC)
    signed, key = take_checkpoint(
        client("s3"),
        client("kms"),
        bucket=settings.audit_bucket,
        key_id=settings.audit_key_id,
        ledger=settings.ledger_table,
        now=now,
        retention_days=settings.audit_retention_days,
        first_lookback_hours=settings.audit_lookback_hours,
    )
    checkpoint = signed.checkpoint
    logger.info(
        "audit checkpoint stored",
        extra={
            "sequence": checkpoint.sequence,
            "object_key": key,
            "chains": len(checkpoint.heads),
            "period_from": checkpoint.period_from,
            "period_through": checkpoint.period_through,
        },
    )
    metrics.add_metric(
        name="AuditChainsAnchored", unit=MetricUnit.Count, value=len(checkpoint.heads)
    )
    return {
        "sequence": checkpoint.sequence,
        "object_key": key,
        "chains": len(checkpoint.heads),
        "digest": checkpoint.digest,
        "period_from": checkpoint.period_from,
        "period_through": checkpoint.period_through,
    }
