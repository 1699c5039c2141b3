"""finalize: record a case's outcome and its audit event, once.

Outcomes: SUCCEEDED; HANDED_OFF (waiting for a person, with the decision's reason); or
COMPENSATING then FAILED. The state machine's finalize Tasks (RecordHandoff,
BeginCompensation, RecordFailure) each send one of the payloads below; SUCCEEDED comes from
EventBridge, Step Functions' status change of the case's execution (named after the case),
delivered at least once: the outcome is recorded once.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from aios.cases import finalize_case
from aios.ledger import bind_ledger
from aios.outcomes import record_outcomes
from aios.plans import Handoff
from aios.settings import load_settings
from aios.tracing import new_tracer
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field

logger = Logger()
tracer = new_tracer()
metrics = Metrics()
settings = load_settings().require("ledger_table")
bind_ledger(settings.ledger_table)


class _Outcome(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_id: str


class RecordSuccess(_Outcome):
    outcome: Literal["SUCCEEDED"]
    results: list[Any] = Field(default_factory=list)
    """The task answers of the case's actions: those an execution plane on its own could not
    record are recorded here (aios.outcomes)."""


class _ExecutionDetail(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    """The execution's name: the case id."""
    status: Literal["SUCCEEDED"]
    output: str | dict[str, Any] | None = None
    """The execution's output (JSON), which Step Functions includes while the event stays under
    its size limit: its `results` are the task answers of the case's actions."""

    def results(self) -> list[Any]:
        """The actions' task answers in the output; none when it was left out or is not JSON."""
        output: Any = self.output
        if isinstance(output, str):
            try:
                output = json.loads(output)
            except ValueError:
                return []
        results = output.get("results") if isinstance(output, dict) else None
        return results if isinstance(results, list) else []


class ExecutionSucceeded(EventBridgeModel):
    """Step Functions' "Execution Status Change" of a case's execution that succeeded."""

    source: Literal["aws.states"]
    detail: _ExecutionDetail


class RecordHandoff(_Outcome):
    outcome: Literal["HANDED_OFF"]
    handoff: Handoff


class BeginCompensation(_Outcome):
    outcome: Literal["COMPENSATING"]
    error: dict[str, Any]
    """What stopped the case: Step Functions' {Error, Cause}."""
    compensation_key: str = Field(min_length=1, max_length=64)
    """The case machine's one-time compensation key; the ledger keeps only its hash."""


class RecordFailure(_Outcome):
    outcome: Literal["FAILED"]
    compensation: dict[str, Any]
    """What the execute function undid, or the {Error, Cause} that stopped it."""


FinalizeRequest = (
    Annotated[
        RecordSuccess | RecordHandoff | BeginCompensation | RecordFailure,
        Field(discriminator="outcome"),
    ]
    | ExecutionSucceeded
)


def _record_reported(case_id: str, results: list[Any]) -> None:
    """Outcomes an execution plane on its own reported in its task answers (aios.outcomes)."""
    reported = record_outcomes(case_id, results)
    if reported:
        logger.info("outcomes recorded from answers", extra={"actions": reported})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=FinalizeRequest)
def handler(request: FinalizeRequest, context: Any) -> dict[str, Any]:
    case_id = request.detail.name if isinstance(request, ExecutionSucceeded) else request.case_id
    logger.append_keys(case_id=case_id)
    match request:
        case ExecutionSucceeded():
            _record_reported(case_id, request.detail.results())
            status = finalize_case(case_id, "SUCCEEDED")
        case RecordSuccess():
            _record_reported(request.case_id, request.results)
            status = finalize_case(request.case_id, request.outcome)
        case RecordHandoff():
            status = finalize_case(
                request.case_id, request.outcome, handoff=request.handoff.model_dump()
            )
        case BeginCompensation():
            status = finalize_case(
                request.case_id,
                request.outcome,
                error=request.error,
                compensation_key=request.compensation_key,
            )
        case RecordFailure():
            status = finalize_case(
                request.case_id, request.outcome, compensation=request.compensation
            )
    logger.info("case finished", extra={"status": status})
    if status in ("SUCCEEDED", "FAILED"):
        metrics.add_metric(
            name="CasesSucceeded" if status == "SUCCEEDED" else "CasesFailed",
            unit=MetricUnit.Count,
            value=1,
        )
    return {"case_id": case_id, "status": status}
