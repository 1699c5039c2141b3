"""approval_request: open an approval, keep its task token, notify approvers, escalate.

Invoked by the case state machine in three steps (field `step`):

- `open` (lambda:invoke): create the approval bound to the action digest; answer its level's
  timeout, which the next state reads through `TimeoutSecondsPath`;
- `await` (lambda:invoke.waitForTaskToken): store the task token server-side and send each
  approver of the level an email (SES, HTML and text) and a Slack message with a signed link;
- `escalate` (lambda:invoke, after States.Timeout): the next level, or the final outcome.
"""

from __future__ import annotations

import base64
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from aios import approvals, aws, slack
from aios.ledger import bind_ledger
from aios.settings import load_settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()
settings = load_settings().require("ledger_table", "approvals_secret_arn")
bind_ledger(settings.ledger_table)


def _secrets() -> dict[str, Any]:
    from aws_lambda_powertools.utilities.parameters import get_secret

    values: Any = get_secret(settings.approvals_secret_arn, transform="json", max_age=300)
    return values if isinstance(values, dict) else {}


def link_key(values: dict[str, Any]) -> bytes:
    return base64.urlsafe_b64decode(str(values["link_key"]) + "==") if values.get("link_key") else b""


def notify(approval_id: str, approvers: list[str], reminder: bool = False) -> list[str]:
    """Email and Slack each approver; a failed channel is logged, the others still go out."""
    env = load_settings()  # the public URL and Slack base may be set after the cold start
    values = _secrets()
    key = link_key(values)
    if not key:
        raise RuntimeError("the approvals secret holds no link_key")
    sent: list[str] = []
    item = approvals.load_approval(approval_id)
    for notice in approvals.notices(approval_id, env.public_api_url, key, approvers, reminder):
        if notice.email and env.approvals_sender:
            try:
                aws.client("ses").send_email(
                    Source=env.approvals_sender,
                    Destination={"ToAddresses": [notice.email]},
                    Message={
                        "Subject": {"Data": notice.subject, "Charset": "UTF-8"},
                        "Body": {
                            "Text": {"Data": notice.text, "Charset": "UTF-8"},
                            "Html": {"Data": notice.html, "Charset": "UTF-8"},
                        },
                    },
                )
                sent.append(notice.approver)
            except Exception:  # noqa: BLE001 - one channel failing must not hide the others
                logger.exception("approval email failed", extra={"approver": notice.approver})
        token = str(values.get("slack_bot_token") or "")
        if notice.slack_user and token:
            data = dict(item.data or {})
            ctx = approvals.page_context(approval_id)
            try:
                answer = slack.call(
                    env.slack_api_url,
                    token,
                    "chat.postMessage",
                    {
                        "channel": notice.slack_user,  # a direct message to the approver
                        "text": notice.subject,
                        "blocks": slack.approval_blocks(
                            approval_id, str(ctx["plan"].get("summary") or ""), ctx["action"],
                            str(ctx["action"].get("risk")), notice.link, False,
                        ),
                        "metadata": {"event_type": "aios_approval", "event_payload": {"approval_id": data["approval_id"]}},
                    },
                )
                if not answer.get("ok", True):
                    logger.warning("slack refused the message", extra={"error": answer.get("error")})
                sent.append(notice.approver)
            except Exception:  # noqa: BLE001
                logger.exception("approval slack message failed", extra={"approver": notice.approver})
    approvals.mark_notified(approval_id, sorted(set(sent)), None)
    return sorted(set(sent))


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
