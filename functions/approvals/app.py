"""approvals: the decision page, the decision POST and Slack interactivity.

Public routes (no IAM): the link token, or Slack's request signature, is the credential.

- `GET /approvals/{approval_id}?t=TOKEN` renders the page; a GET never changes state.
- `POST /approvals/{approval_id}` (form: `t`, `decision`, `comment`) applies the decision once.
- `POST /slack/interactions` verifies `X-Slack-Signature`, maps the Slack user to an approver,
  applies the decision and updates the message.

A decision that closes the approval answers the waiting state machine task.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs

from aios import approvals, notifications
from aios.errors import (
    AiosError,
    AlreadyDecided,
    ApprovalNotFound,
    ChangesNotAllowed,
    InvalidDecision,
    LinkExpired,
    LinkForbidden,
    SlackSignatureInvalid,
)
from aios.ledger import bind_ledger
from aios.settings import load_settings
from aios.tracing import new_tracer
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel

logger = Logger()
tracer = new_tracer()
metrics = Metrics()
settings = load_settings().require("ledger_table", "approvals_secret_arn")
bind_ledger(settings.ledger_table)
app = APIGatewayRestResolver()

# The one place approval errors become HTTP statuses.
HTTP_STATUS: dict[type[AiosError], int] = {
    LinkForbidden: 403,
    SlackSignatureInvalid: 401,
    ApprovalNotFound: 404,
    AlreadyDecided: 409,
    ChangesNotAllowed: 409,
    LinkExpired: 410,
}
DECIDED_METRIC = {"APPROVED": "ApprovalsApproved", "REJECTED": "ApprovalsRejected"}


class DecisionForm(BaseModel):
    """The decision POST: the form the page sends (the token may also be in the query)."""

    t: str = ""
    decision: str = ""
    comment: str = ""


def _html(status: int, doc: str) -> Response[str]:
    return Response(
        status_code=status,
        content_type="text/html; charset=utf-8",
        body=doc,
        headers=approvals.HEADERS,
    )


@app.exception_handler(AiosError)
def _domain_error(exc: AiosError) -> Response[str]:
    status = next((s for cls, s in HTTP_STATUS.items() if isinstance(exc, cls)), 400)
    logger.info("approval request refused", extra={"code": exc.code, "status": status})
    return _html(status, approvals.error_page(status, exc.message))


def _secrets() -> dict[str, Any]:
    return notifications.approval_secrets(settings.approvals_secret_arn)


def _report(decided: approvals.Decided) -> None:
    """Metrics of a decision, and a warning when its answer reached no waiting task."""
    metrics.add_dimension(name="process", value=decided.process)
    if not decided.closed:
        return
    name = DECIDED_METRIC.get(decided.status, "ApprovalsChangesRequested")
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    if decided.latency_seconds is not None:
        metrics.add_metric(
            name="ApprovalLatency", unit=MetricUnit.Seconds, value=decided.latency_seconds
        )
    if not decided.task_token:
        logger.warning("decided, but no task token is stored")
    elif decided.answered is False:
        logger.warning("decided, but the case no longer waits for this approval")


@app.get("/approvals/<approval_id>")
def show(approval_id: str) -> Response[str]:
    token = app.current_event.get_query_string_value("t") or ""
    key = notifications.link_key(_secrets())
    return _html(200, approvals.review_page(key, approval_id, token))


@app.post("/approvals/<approval_id>")
def decide(approval_id: str) -> Response[str]:
    try:
        fields = parse_qs(app.current_event.decoded_body or "", max_num_fields=10)
    except ValueError as exc:  # more fields than a decision form has
        raise InvalidDecision(f"the form is not a decision: {exc}") from exc
    form = DecisionForm.model_validate({k: v[-1] for k, v in fields.items()})
    token = form.t or app.current_event.get_query_string_value("t") or ""
    logger.append_keys(action_id=approval_id)
    key = notifications.link_key(_secrets())
    decided = approvals.decide_by_link(key, approval_id, token, form.decision, form.comment)
    _report(decided)
    return _html(200, approvals.decided_page(decided))


@app.post("/slack/interactions")
def slack_interaction() -> Response[str]:
    event, values = app.current_event, _secrets()
    slack_app = approvals.SlackApp(
        signing_secret=str(values.get("slack_signing_secret") or ""),
        bot_token=str(values.get("slack_bot_token") or ""),
        api_url=load_settings().slack_api_url,
    )
    request = approvals.SlackRequest(
        timestamp=event.headers.get("X-Slack-Request-Timestamp"),
        signature=event.headers.get("X-Slack-Signature"),
        body=event.decoded_body or "",
    )
    decided = approvals.decide_by_slack(slack_app, request)
    _report(decided)
    return Response(
        status_code=200,
        content_type="application/json",
        body=json.dumps(
            {"text": f"{decided.status.lower()} by {decided.approver}", "at": int(time.time())}
        ),
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
