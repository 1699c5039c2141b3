"""approval_request: open an approval, keep its task token, notify approvers, escalate.

Invoked by the case state machine in three steps (field `step`):

- `open` (lambda:invoke): create the approval bound to the action digest; answer its level's
  timeout, which the next state reads through `TimeoutSecondsPath`;
- `await` (lambda:invoke.waitForTaskToken): store the task token server-side and send each
  approver of the level an email (SES, HTML and text) and a Slack message with a signed link;
- `escalate` (lambda:invoke, after States.Timeout): the next level, or the final outcome;
- `revision` (lambda:invoke, after Aios.ChangesRequested): the round, the reviewer's comment
  and the rule's limits, which the machine re-plans with.
"""

from __future__ import annotations

from typing import Any

from aios import approvals, notifications
from aios.ledger import bind_ledger
from aios.settings import load_settings
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
tracer = Tracer()
metrics = Metrics()
settings = load_settings().require("ledger_table", "approvals_secret_arn")
bind_ledger(settings.ledger_table)


def notify(approval_id: str, approvers: list[str]) -> list[str]:
    """Email and Slack each approver (see `aios.notifications`) and remember who was reached."""
    env = load_settings()  # the public URL and Slack base may be set after the cold start
    sent = notifications.notify_approvers(approval_id, approvers, env)
    approvals.mark_notified(approval_id, sent, None)
    return sent


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    step = str(event.get("step"))
    case_id = str(event["case_id"])
    logger.append_keys(case_id=case_id)
    if step == "open":
        action = dict(event["action"])
        logger.append_keys(action_id=action.get("action_id"), plan_id=action.get("plan_id"))
        result = approvals.open_approval(case_id, action)
        metrics.add_dimension(name="process", value=str(result["process"]))
        metrics.add_metric(name="ApprovalsRequested", unit=MetricUnit.Count, value=1)
        return result
    if step == "revision":
        # After Aios.ChangesRequested: what Decide re-plans with, read from the ledger.
        return approvals.revision(case_id)
    approval_id = str(event["approval_id"])
    logger.append_keys(action_id=approval_id)
    level = int(event["level"])
    if step == "await":
        data = approvals.store_task_token(approval_id, level, str(event["task_token"]))
        sent = notify(approval_id, list(data.get("approvers", [])))
        logger.info("approvers notified", extra={"level": level, "notified": sent})
        return {"notified": sent}
    if step == "escalate":
        result = approvals.escalate(approval_id, level)
        name = "ApprovalsEscalated" if result["outcome"] == "wait" else "ApprovalsTimedOut"
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
        logger.info("approval timed out", extra={"level": level, "outcome": result["outcome"]})
        return result
    raise ValueError(f"unknown step {step!r}")
