"""handoff: a handed-off case waits for a person, is reminded, and resumes.

Invoked by the case state machine in three steps (field `step`):

- `await` (lambda:invoke.waitForTaskToken): keep the task token on the handoff and, the first
  time, notify the process's handlers (email, Slack); if a person moved first, answer at once;
- `remind` (lambda:invoke, after the SLA heartbeat timed out): remind the handlers once;
  answers the seconds left until the final timeout;
- `resume` (lambda:invoke, after the task was answered or timed out): what happened, from the
  ledger: an operator's move (with the revision Decide plans with), or the policy's timeout.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aios.handoffs import wait
from aios.ledger import bind_ledger
from aios.settings import load_settings
from aios.tracing import new_tracer
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from pydantic import BaseModel, ConfigDict, Field

logger = Logger()
tracer = new_tracer()
metrics = Metrics()
settings = load_settings().require("ledger_table", "approvals_secret_arn")
bind_ledger(settings.ledger_table)


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_id: str = Field(min_length=1, max_length=80)
    handoff_id: str = Field(min_length=1, max_length=120)


class Await(_Step):
    step: Literal["await"]
    task_token: str = Field(min_length=1)


class Remind(_Step):
    step: Literal["remind"]


class Resume(_Step):
    step: Literal["resume"]
    timed_out: bool = False


HandoffRequest = Annotated[Await | Remind | Resume, Field(discriminator="step")]


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=HandoffRequest)
def handler(request: HandoffRequest, context: Any) -> dict[str, Any]:
    logger.append_keys(case_id=request.case_id, handoff_id=request.handoff_id)
    env = load_settings()  # the public URL and Slack base may be set after the cold start
    match request:
        case Await():
            awaited = wait.await_operator(
                request.case_id, request.handoff_id, request.task_token, env
            )
            if awaited.first:
                _count(awaited.record.process, awaited.notified, awaited.record.reason)
            return {"notified": awaited.notified, "answered": awaited.answered}
        case Remind():
            remaining = wait.remind(request.case_id, request.handoff_id, env)
            logger.info("handoff SLA passed", extra={"remaining_seconds": remaining})
            return {"remaining_seconds": remaining}
        case Resume():
            resumed = wait.resume(request.case_id, request.handoff_id, timed_out=request.timed_out)
            logger.info("handoff resumed", extra={"move": resumed.move, "by": resumed.operator})
            metrics.add_dimension(name="process", value=resumed.process)
            if resumed.timed_out:
                metrics.add_metric(name="HandoffsTimedOut", unit=MetricUnit.Count, value=1)
            elif resumed.operator:
                metrics.add_metric(name="OperatorMoves", unit=MetricUnit.Count, value=1)
            return resumed.to_state()


def _count(process: str, notified: list[str], reason: str) -> None:
    """CasesHandedOff and HandoffNoticesSent, once per handoff (when its notice goes out)."""
    metrics.add_dimension(name="process", value=process)
    logger.info("case handed off", extra={"reason": reason, "notified": notified})
    metrics.add_metric(name="CasesHandedOff", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="HandoffNoticesSent", unit=MetricUnit.Count, value=len(notified))
