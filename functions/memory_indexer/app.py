"""memory_indexer: the memory table's DynamoDB stream -> the vector index.

Idempotent and safe out of order: the store refuses a version older than the one it holds,
and a REMOVE (delete or TTL expiry) deletes only up to its own version. A failure fails the
batch, so Lambda retries it (the event source mapping bisects and bounds the retries); the
reconciler repairs whatever is still missing.
"""

from __future__ import annotations

import time
from typing import Any

from aios.memory.config import load_memory_settings, open_embedder, open_store
from aios.memory.indexing import index_stream_records
from aios.tracing import new_tracer
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
tracer = new_tracer()
metrics = Metrics()
memory = load_memory_settings()
store = open_store(memory)
if store is None:
    raise RuntimeError("memory_indexer needs a memory engine (AIOS_MEMORY_ENGINE)")
embedder = open_embedder(memory)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    assert store is not None
    report = index_stream_records(event.get("Records", []), store, embedder, time.time())
    logger.info("indexed", extra=report.model_dump())
    metrics.add_metric(name="MemoryDocsUpserted", unit=MetricUnit.Count, value=report.upserted)
    metrics.add_metric(name="MemoryDocsDeleted", unit=MetricUnit.Count, value=report.deleted)
    return report.model_dump()
