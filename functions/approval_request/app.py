"""approval_request: open an approval, keep its task token, notify approvers, escalate.

Invoked by the case state machine in four steps (field `step`):

- `open` (lambda:invoke): create the approval bound to the action digest; answer its level's
  timeout, which the next state reads through `TimeoutSecondsPath`;
- `await` (lambda:invoke.waitForTaskToken): store the task token server-side and send each
  approver of the level an email (SES, HTML and text) and a Slack message with a signed link;
- `escalate` (lambda:invoke, after States.Timeout): the next level, or the final outcome;
- `revision` (lambda:invoke, after Aios.ChangesRequested): the round, the reviewer's comment
  and the rule's limits, which the machine re-plans with.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aios import approvals, notifications
from aios.ledger import bind_ledger
from aios.settings import load_settings
from aios.tracing import new_tracer
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

logger = Logger()
tracer = new_tracer()
metrics = Metrics()
settings = load_settings().require("ledger_table", "approvals_secret_arn")
bind_ledger(settings.ledger_table)


class ProposedAction(BaseModel):
    """The action of the `open` step, as Decide proposed it; the ledger holds the rest."""

    model_config = ConfigDict(extra="ignore")

    action_id: str
    index: int
    plan_id: str | None = None


class Open(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step: Literal["open"]
    case_id: str
    action: ProposedAction


class Await(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step: Literal["await"]
    case_id: str
    approval_id: str
    level: int
    task_token: str


class Escalate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step: Literal["escalate"]
    case_id: str
    approval_id: str
    level: int


class Revise(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step: Literal["revision"]
    case_id: str


Step = Annotated[Open | Await | Escalate | Revise, Field(discriminator="step")]
STEP: TypeAdapter[Open | Await | Escalate | Revise] = TypeAdapter(Step)


def open_approval(step: Open) -> dict[str, Any]:
    logger.append_keys(action_id=step.action.action_id, plan_id=step.action.plan_id)
    result = approvals.open_approval(step.case_id, step.action.action_id, step.action.index)
    metrics.add_dimension(name="process", value=result.process)
    metrics.add_metric(name="ApprovalsRequested", unit=MetricUnit.Count, value=1)
    return result.model_dump()


def await_decision(step: Await) -> dict[str, Any]:
    logger.append_keys(action_id=step.approval_id)
    env = load_settings()  # the public URL and Slack base may be set after the cold start
    sent = notifications.request_decision(step.approval_id, step.level, step.task_token, env)
    logger.info("approvers notified", extra={"level": step.level, "notified": sent})
    return {"notified": sent}


def escalate(step: Escalate) -> dict[str, Any]:
    logger.append_keys(action_id=step.approval_id)
    result = approvals.escalate(step.approval_id, step.level)
    name = "ApprovalsEscalated" if result.outcome == "wait" else "ApprovalsTimedOut"
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    logger.info("approval timed out", extra={"level": step.level, "outcome": result.outcome})
    return result.model_dump()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    step = STEP.validate_python(event)
    logger.append_keys(case_id=step.case_id)
    match step:
        case Open():
            return open_approval(step)
        case Await():
            return await_decision(step)
        case Escalate():
            return escalate(step)
        case Revise():
            # After Aios.ChangesRequested: what Decide re-plans with, read from the ledger.
            return approvals.revision(step.case_id).model_dump()
