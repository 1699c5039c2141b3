"""memory: the case flow's Recall (before Decide) and Learn (after the case ends) steps.

Recall answers the top-k memories of the case's tenant and process namespace, weighted by
recency and summarised, for `$.memory`. Learn writes the finished case's lesson as a canonical
record; the indexer embeds it from the table's stream. With memory off both answer empty.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aios import aws
from aios.cases import case_view
from aios.ledger import bind_ledger
from aios.memory import bind_memory_table
from aios.memory.config import load_memory_settings, open_embedder, open_store
from aios.memory.context import check_out
from aios.memory.service import case_text, learn, recall
from aios.settings import load_settings
from aios.tracing import new_tracer
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from pydantic import BaseModel, ConfigDict, Field

logger = Logger()
tracer = new_tracer()
metrics = Metrics()
bind_ledger(load_settings().require("ledger_table").ledger_table)
memory = load_memory_settings()
if memory.enabled:
    bind_memory_table(memory.table)
store = open_store(memory)
embedder = open_embedder(memory)


class Recall(BaseModel):
    """The Recall Task: the case as submitted (its `input` may be a claim check)."""

    model_config = ConfigDict(extra="forbid")

    step: Literal["recall"]
    case_id: str
    tenant: str
    process: str
    input: dict[str, Any]


class Learn(BaseModel):
    """The LearnSuccess and LearnFailure Tasks: the case has ended with `outcome`."""

    model_config = ConfigDict(extra="forbid")

    step: Literal["learn"]
    case_id: str
    outcome: Literal["SUCCEEDED", "FAILED"]


MemoryRequest = Annotated[Recall | Learn, Field(discriminator="step")]


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=MemoryRequest)
def handler(request: MemoryRequest, context: Any) -> dict[str, Any]:
    logger.append_keys(case_id=request.case_id)
    match request:
        case Recall():
            logger.append_keys(process=request.process)
            return _recall(request)
        case Learn():
            return _learn(request)


def _recall(request: Recall) -> dict[str, Any]:
    if store is None:
        return {"namespace": request.process, "embedding_model": "", "memories": [], "summary": ""}
    data = check_out(request.input, s3=aws.client("s3"))
    context = recall(
        tenant=request.tenant,
        namespace=request.process,
        query=case_text(request.process, dict(data or {})),
        store=store,
        embedder=embedder,
        k=memory.top_k,
        half_life_days=memory.half_life_days,
    )
    metrics.add_metric(name="MemoriesRecalled", unit=MetricUnit.Count, value=len(context.memories))
    logger.info("recalled", extra={"memories": [m.memory_id for m in context.memories]})
    return context.model_dump()


def _learn(request: Learn) -> dict[str, Any]:
    if store is None:
        return {"learned": False}
    case = case_view(request.case_id)
    record = learn(
        case=case,
        outcome=request.outcome,
        namespace=str(case["process"]),
        embedding_model=embedder.model,
        ttl_days=memory.ttl_days,
    )
    metrics.add_metric(name="MemoriesLearned", unit=MetricUnit.Count, value=1)
    return {"learned": True, "memory_id": record.memory_id, "version": int(record.version)}
