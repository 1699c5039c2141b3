"""finalize: record a case's outcome and its audit event, once.

Outcomes: SUCCEEDED; HANDED_OFF (waiting for a person, with the decision's reason); or
COMPENSATING then FAILED.
"""

from __future__ import annotations

from typing import Any

from aios.cases import finalize_case
from aios.ledger import bind_ledger
from aios.settings import load_settings
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
tracer = Tracer()
metrics = Metrics()
settings = load_settings().require("ledger_table")
bind_ledger(settings.ledger_table)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    case_id = str(event["case_id"])
    logger.append_keys(case_id=case_id)
    status = finalize_case(
        case_id,
        str(event["outcome"]),
        event.get("error"),
        event.get("compensation"),
        event.get("handoff"),
        event.get("compensation_key"),
    )
    logger.info("case finished", extra={"status": status})
    if status in ("SUCCEEDED", "FAILED"):
        metrics.add_metric(
            name="CasesSucceeded" if status == "SUCCEEDED" else "CasesFailed",
            unit=MetricUnit.Count,
            value=1,
        )
    return {"case_id": case_id, "status": status}
