"""memory: the case flow's Recall (before Decide) and Learn (after the case ends) steps.

Recall answers the top-k memories of the case's tenant and process namespace, weighted by
recency and summarised, for `$.memory`. Learn writes the finished case's lesson as a canonical
record; the indexer embeds it from the table's stream. With memory off both answer empty.
"""

from __future__ import annotations

from typing import Any

from aios import aws
from aios.cases import case_view
from aios.ledger import bind_ledger
from aios.memory import bind_memory_table
from aios.memory.config import load_memory_settings, open_embedder, open_store
from aios.memory.context import check_out_case_input
from aios.memory.service import case_text, learn, recall
from aios.settings import load_settings
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
tracer = Tracer()
metrics = Metrics()
bind_ledger(load_settings().require("ledger_table").ledger_table)
memory = load_memory_settings()
if memory.enabled:
    bind_memory_table(memory.table)
store = open_store(memory)
embedder = open_embedder(memory)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    case_id = str(event["case_id"])
    logger.append_keys(case_id=case_id, process=event.get("process"))
    if event.get("step") == "learn":
        return _learn(case_id, str(event["outcome"]))
    return _recall(event)


def _recall(event: dict[str, Any]) -> dict[str, Any]:
    process = str(event["process"])
    if store is None:
        return {"namespace": process, "embedding_model": "", "memories": [], "summary": ""}
    event = check_out_case_input(event, aws.client("s3"))
    context = recall(
        tenant=str(event["tenant"]),
        namespace=process,
        query=case_text(process, dict(event.get("input") or {})),
        store=store,
        embedder=embedder,
        k=memory.top_k,
        half_life_days=memory.half_life_days,
    )
    metrics.add_metric(name="MemoriesRecalled", unit=MetricUnit.Count, value=len(context.memories))
    logger.info("recalled", extra={"memories": [m.memory_id for m in context.memories]})
    return context.model_dump()


def _learn(case_id: str, outcome: str) -> dict[str, Any]:
    if store is None:
        return {"learned": False}
    case = case_view(case_id)
    record = learn(
        case=case,
        outcome=outcome,
        namespace=str(case["process"]),
        embedding_model=embedder.model,
        ttl_days=memory.ttl_days,
    )
    metrics.add_metric(name="MemoriesLearned", unit=MetricUnit.Count, value=1)
    return {"learned": True, "memory_id": record.memory_id, "version": int(record.version)}
