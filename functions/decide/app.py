"""decide: classify and plan a case, gate each action by policy, sign the plan once."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from aios import aws
from aios.ledger import bind_ledger
from aios.planning import CaseInput, decide_case
from aios.providers import get_provider
from aios.settings import load_settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()
settings = load_settings().require("ledger_table", "plan_key_id")
bind_ledger(settings.ledger_table)
provider = get_provider(settings.model_provider)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    case = CaseInput.model_validate(event)
    logger.append_keys(case_id=case.case_id, process=case.process)
    decision = decide_case(
        case,
        provider=provider,
        kms=aws.client("kms"),
        key_id=settings.plan_key_id,
        ttl_seconds=settings.plan_ttl_seconds,
    )
    logger.append_keys(plan_id=decision.plan.envelope.plan_id)
    logger.info("plan signed", extra={"actions": len(decision.actions)})
    metrics.add_dimension(name="process", value=case.process)
    metrics.add_metric(name="ActionsProposed", unit=MetricUnit.Count, value=len(decision.actions))
    return decision.model_dump(mode="json", by_alias=True)
