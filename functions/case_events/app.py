"""case_events: the ledger's stream -> case lifecycle events on the kit's EventBridge bus.

The event source mapping delivers only new audit items (a filter on INSERT and `AUDIT#`); each
becomes one `CaseEvent` with its causal ids, put on the bus in stream order. When EventBridge
refuses an entry, the record it came from is reported as the batch item failure: Lambda
retries the stream from there, so nothing is lost (and consumers deduplicate on the event id).
"""

from __future__ import annotations

from typing import Any

from aios import aws
from aios.events import CaseEvent, CausalLookup, audit_record, case_event, publish
from aios.ledger import bind_ledger
from aios.settings import load_settings
from aios.tracing import new_tracer
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent, event_source
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecordEventName,
)

logger = Logger()
tracer = new_tracer()
metrics = Metrics()
settings = load_settings().require("ledger_table", "event_bus_name")
bind_ledger(settings.ledger_table)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=DynamoDBStreamEvent)
def handler(event: DynamoDBStreamEvent, context: Any) -> dict[str, Any]:
    lookup = CausalLookup()
    pending: list[tuple[str, CaseEvent]] = []
    for record in event.records:
        if record.event_name != DynamoDBRecordEventName.INSERT or record.dynamodb is None:
            continue
        audit = audit_record(record.dynamodb.new_image)
        if audit is not None:
            pending.append((str(record.dynamodb.sequence_number), case_event(audit, lookup)))
    failed = publish([e for _, e in pending], settings.event_bus_name, aws.client("events"))
    published = len(pending) if failed is None else failed
    metrics.add_metric(name="CaseEventsPublished", unit=MetricUnit.Count, value=published)
    if failed is None:
        return {"batchItemFailures": []}
    logger.warning("EventBridge refused an event", extra={"event_id": pending[failed][1].id})
    return {"batchItemFailures": [{"itemIdentifier": pending[failed][0]}]}
