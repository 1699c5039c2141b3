"""memory_reconciler: scheduled repair of the vector index from the canonical records.

Also the index's custom resource handler: on stack Create/Update it creates the k-NN index
(mapping: HNSW, keyword filters), so no manual step follows a deploy.
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Annotated, Any, Literal

from aios.memory import bind_memory_table
from aios.memory.config import load_memory_settings, open_embedder, open_store
from aios.memory.indexing import reconcile
from aios.memory.records import scan_records
from aios.tracing import new_tracer
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

logger = Logger()
tracer = new_tracer()
metrics = Metrics()
memory = load_memory_settings()
store = open_store(memory)
if store is None:
    raise RuntimeError("memory_reconciler needs a memory engine (AIOS_MEMORY_ENGINE)")
bind_memory_table(memory.table)
embedder = open_embedder(memory)


class _IndexResource(BaseModel):
    """A CloudFormation custom resource request for the index (only the fields answered)."""

    # CloudFormation also sends ServiceToken, ResourceType, ResourceProperties, ...
    model_config = ConfigDict(extra="ignore")

    response_url: str = Field(alias="ResponseURL")  # pre-signed: used exactly as sent
    stack_id: str = Field(alias="StackId")
    request_id: str = Field(alias="RequestId")
    logical_resource_id: str = Field(alias="LogicalResourceId")


class EnsureIndex(_IndexResource):
    request_type: Literal["Create", "Update"] = Field(alias="RequestType")


class KeepIndex(_IndexResource):
    request_type: Literal["Delete"] = Field(alias="RequestType")


# A TypeAdapter, not Powertools' parse(): parse() is typed for a model class, not a union.
IndexResourceRequest: TypeAdapter[EnsureIndex | KeepIndex] = TypeAdapter(
    Annotated[EnsureIndex | KeepIndex, Field(discriminator="request_type")]
)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    assert store is not None
    if "RequestType" in event:  # the index custom resource (CloudFormation calls it directly)
        return _index_resource(IndexResourceRequest.validate_python(event))
    # Anything else is the hourly schedule (or a person asking for a run): its payload is unused.
    report = reconcile(scan_records(), store, embedder, time.time())
    logger.info("memory reconciled", extra={**report.model_dump(), "drift": report.total})
    metrics.add_metric(name="MemoryDrift", unit=MetricUnit.Count, value=report.total)
    for kind in ("missing", "stale", "orphans", "expired", "reembedded"):
        metrics.add_metric(
            name=f"MemoryDrift{kind.capitalize()}",
            unit=MetricUnit.Count,
            value=getattr(report, kind),
        )
    return report.model_dump()


def _index_resource(request: EnsureIndex | KeepIndex) -> dict[str, Any]:
    """Create the index on Create/Update (idempotent); keep it on Delete (the records are the
    truth and the index is rebuilt from them). Answers CloudFormation's pre-signed URL."""
    assert store is not None
    status, reason = "SUCCESS", ""
    try:
        if isinstance(request, EnsureIndex):
            store.ensure_index(embedder.dimensions)
    except Exception as exc:  # boundary: CloudFormation must hear about any failure
        logger.exception("index custom resource failed")
        status, reason = "FAILED", str(exc)[:500]
    answer = {
        "Status": status,
        "Reason": reason or "ok",
        "PhysicalResourceId": f"index/{memory.index}",
        "StackId": request.stack_id,
        "RequestId": request.request_id,
        "LogicalResourceId": request.logical_resource_id,
    }
    body = json.dumps(answer).encode()
    put = urllib.request.Request(  # noqa: S310 - CloudFormation's https pre-signed URL
        request.response_url, data=body, method="PUT", headers={"Content-Type": ""}
    )
    with urllib.request.urlopen(put, timeout=10) as response:  # noqa: S310
        response.read()
    return answer
