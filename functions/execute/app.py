"""execute: run each queued action or compensation message, at most once, and answer its case.

Reads the FIFO action queue with partial batch responses. `aios.execution.run_message` holds
the decision tree and returns an Outcome; this handler maps it to metrics and, for a retryable
failure, to a batch item failure with backoff (the message returns to the queue, and goes to
the DLQ after the queue's maxReceiveCount). A refused message is reported as processed: it can
never succeed, so it must not hold its message group.
"""

from __future__ import annotations

from typing import Any

from aios.errors import RetryableActionError
from aios.execution import ExecutionContext, Outcome, idempotent_runner, run_message
from aios.execution.runtime import execution_context
from aios.ledger import bind_ledger
from aios.redelivery import retry_later
from aios.settings import load_settings
from aios.tracing import new_tracer
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

logger = Logger()
tracer = new_tracer()
metrics = Metrics()
settings = load_settings().require("ledger_table", "idempotency_table")
bind_ledger(settings.ledger_table)
processor = SqsFifoPartialProcessor(skip_group_on_error=True)
run_once, idempotency_config = idempotent_runner(settings.idempotency_table)
_context: ExecutionContext | None = None

METRICS = {
    "applied": "ActionsApplied",
    "rejected": "ActionsRejected",
    "retry": "ActionRetries",
    "failed": "ActionsFailed",
}


def _execution_context() -> ExecutionContext:
    global _context
    if _context is None:
        _context = execution_context(settings, run_once, logger.append_keys)
    return _context


def _measure(outcome: Outcome) -> None:
    if outcome.kind == "compensated":
        undone = len((outcome.result or {}).get("compensated", []))
        metrics.add_metric(name="ActionsCompensated", unit=MetricUnit.Count, value=undone)
        return
    metrics.add_metric(name=METRICS[outcome.kind], unit=MetricUnit.Count, value=outcome.actions)


@tracer.capture_method
def handle_record(record: SQSRecord) -> None:
    logger.append_keys(message_id=record.message_id)
    outcome = run_message(record.message_id, record.body, _execution_context())
    _measure(outcome)
    if outcome.kind == "rejected":
        logger.warning(
            "message refused", extra={"error": outcome.error, "answered": outcome.answered}
        )
    elif outcome.kind == "failed":
        logger.error("action failed", extra={"error": outcome.error})
    elif outcome.kind == "retry":
        logger.warning("retryable failure", extra={"error": outcome.error})
        retry_later(
            record.event_source_arn,
            record.receipt_handle,
            int(record.attributes.approximate_receive_count or 1),
        )
        raise RetryableActionError(str((outcome.error or {}).get("message", "retry")))
    elif not outcome.answered:
        logger.warning("done, but the case no longer waits for this answer")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    idempotency_config.register_lambda_context(context)
    return process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )
