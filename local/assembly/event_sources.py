"""Event source mappings as poller specs: SQS queue -> function, DynamoDB stream -> function.

A mapping is kept only when its source is an emulated queue or table stream, its function is
an emulated function (named by physical name or ARN) and it is enabled. The SQS pass logs
each mapping it skips for its source or its function.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from local.assembly.context import ProvisionContext, truthy
from local.assembly.specs import EventSourceMappingSpec, FunctionSpec

if TYPE_CHECKING:
    from local.stream_poller import StreamMappingSpec

logger = logging.getLogger(__name__)


def functions_by_physical_name(functions: Mapping[str, FunctionSpec]) -> dict[str, str]:
    """Physical name and ARN of each function -> its short name."""
    by_physical = {spec.function_name: spec.name for spec in functions.values()}
    by_physical.update({spec.arn: spec.name for spec in functions.values()})
    return by_physical


def _mappings(
    ctx: ProvisionContext, resources: Mapping[str, Any]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(logical id, resolved properties) of each AWS::Lambda::EventSourceMapping."""
    for logical_id, resource in resources.items():
        if resource.get("Type") == "AWS::Lambda::EventSourceMapping":
            yield logical_id, ctx.props(resource)


def sqs_event_sources(
    ctx: ProvisionContext, resources: Mapping[str, Any], by_physical: Mapping[str, str]
) -> list[EventSourceMappingSpec]:
    """Enabled mappings from an emulated SQS queue to an emulated function."""
    queue_by_arn = {}
    for logical_id in ctx.deployment.queues:
        resolved = ctx.resolver.resource(logical_id)
        queue_by_arn[resolved.attributes["Arn"]] = resolved.ref
    mappings = []
    for logical_id, p in _mappings(ctx, resources):
        source = p.get("EventSourceArn", "")
        if source not in queue_by_arn:
            logger.info(
                "skipping event source mapping %s: %s is not an SQS queue", logical_id, source
            )
            continue
        function = by_physical.get(str(p.get("FunctionName")))
        if function is None:
            logger.info("skipping event source mapping %s: no emulated function", logical_id)
            continue
        if not truthy(p.get("Enabled", True)):
            continue
        mappings.append(
            EventSourceMappingSpec(
                function=function,
                queue_url=queue_by_arn[source],
                queue_arn=source,
                batch_size=int(p.get("BatchSize", 10)),
                report_batch_item_failures="ReportBatchItemFailures"
                in (p.get("FunctionResponseTypes") or []),
                maximum_batching_window_s=int(p.get("MaximumBatchingWindowInSeconds", 0)),
                logical_id=logical_id,
            )
        )
    return mappings


def stream_event_sources(
    ctx: ProvisionContext, resources: Mapping[str, Any], by_physical: Mapping[str, str]
) -> list[StreamMappingSpec]:
    """Enabled mappings from the stream of an emulated DynamoDB table to an emulated function."""
    # Imported here: local.stream_poller imports local.assembly (through local.sqs_poller).
    from local.event_filters import parse_patterns
    from local.stream_poller import StreamMappingSpec

    streams = {
        ctx.resolver.resource(lid).attributes.get("StreamArn") for lid in ctx.deployment.tables
    }
    mappings = []
    for logical_id, p in _mappings(ctx, resources):
        source = p.get("EventSourceArn", "")
        function = by_physical.get(str(p.get("FunctionName")))
        if not source or source not in streams or function is None:
            continue
        if not truthy(p.get("Enabled", True)):
            continue
        mappings.append(
            StreamMappingSpec(
                function=function,
                stream_arn=source,
                batch_size=int(p.get("BatchSize", 100)),
                starting_position=str(p.get("StartingPosition", "TRIM_HORIZON")),
                maximum_retry_attempts=int(p.get("MaximumRetryAttempts", -1)),
                logical_id=logical_id,
                filters=parse_patterns(p.get("FilterCriteria")),
                report_batch_item_failures="ReportBatchItemFailures"
                in (p.get("FunctionResponseTypes") or []),
            )
        )
    return mappings
