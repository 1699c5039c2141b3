"""webhooks: deliver queued case events to their process's webhook, signed.

The kit's EventBridge rule puts every event a process's webhook subscribes to on the webhook
queue. A delivery that may succeed later (5xx, 429, timeout) goes back to the queue with
backoff and to the webhook dead-letter queue after the queue's maxReceiveCount; one that can
never succeed (another 4xx, no such webhook) goes to the dead-letter queue at once.
`aios webhooks replay` moves dead-lettered deliveries back.
"""

from __future__ import annotations

from typing import Any

from aios import aws
from aios.errors import RetryableActionError, TerminalActionError
from aios.events import deliver, parse_delivery
from aios.redelivery import retry_later
from aios.settings import load_settings
from aios.tracing import new_tracer
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

logger = Logger()
tracer = new_tracer()
metrics = Metrics()
settings = load_settings().require("http_secret_arn", "webhook_dlq_url")
processor = BatchProcessor(event_type=EventType.SQS)


def _dead_letter(record: SQSRecord, error: dict[str, Any]) -> None:
    """Park a delivery that can never succeed in the dead-letter queue, with its reason."""
    aws.client("sqs").send_message(
        QueueUrl=settings.webhook_dlq_url,
        MessageBody=record.body,
        MessageAttributes={
            "aios_error": {"DataType": "String", "StringValue": str(error.get("message"))[:1000]}
        },
    )


@tracer.capture_method
def handle_record(record: SQSRecord) -> None:
    try:
        event = parse_delivery(record.body)
        logger.append_keys(case_id=event.case_id, event_id=event.id, process=event.process)
        delivered = deliver(event, settings)
    except TerminalActionError as exc:
        logger.error("webhook delivery failed for good", extra={"error": exc.to_dict()})
        _dead_letter(record, exc.to_dict())
        metrics.add_metric(name="WebhooksDeadLettered", unit=MetricUnit.Count, value=1)
        return
    except RetryableActionError as exc:
        logger.warning("webhook delivery will be retried", extra={"error": exc.to_dict()})
        metrics.add_metric(name="WebhookRetries", unit=MetricUnit.Count, value=1)
        retry_later(
            record.event_source_arn,
            record.receipt_handle,
            int(record.attributes.approximate_receive_count or 1),
        )
        raise
    logger.info("webhook delivered", extra=delivered)
    metrics.add_metric(name="WebhooksDelivered", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )
