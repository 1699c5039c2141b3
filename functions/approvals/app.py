"""approvals: the decision page, the decision POST and Slack interactivity.

Public routes (no IAM): the link token, or Slack's request signature, is the credential.

- `GET /approvals/{approval_id}?t=TOKEN` renders the page; a GET never changes state.
- `POST /approvals/{approval_id}` (form: `t`, `decision`, `comment`) applies the decision once.
- `POST /slack/interactions` verifies `X-Slack-Signature`, maps the Slack user to an approver,
  applies the decision and updates the message.

A decision that settles the approval answers the waiting state machine task.
"""

from __future__ import annotations

import html
import json
import time
from typing import Any
from urllib.parse import parse_qs

from aios import approvals, aws, notifications, slack
from aios.errors import AiosError
from aios.ledger import bind_ledger
from aios.settings import load_settings
from aios.specs import get_spec
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
tracer = Tracer()
metrics = Metrics()
settings = load_settings().require("ledger_table", "approvals_secret_arn")
bind_ledger(settings.ledger_table)
app = APIGatewayRestResolver()

# The one place approval errors become HTTP statuses.
HTTP_STATUS: dict[type[AiosError], int] = {
    approvals.LinkForbidden: 403,
    slack.SlackSignatureInvalid: 401,
    approvals.ApprovalNotFound: 404,
    approvals.AlreadyDecided: 409,
    approvals.ChangesNotAllowed: 409,
    approvals.LinkExpired: 410,
}
# The Step Functions error the approval task fails with when a reviewer requests changes.
CHANGES_REQUESTED_ERROR = "Aios.ChangesRequested"
HEADERS = {
    "Cache-Control": "no-store",
    # The token is in the URL: never send it on as a referrer, never frame the page.
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
}
STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}"
    "pre{background:#f4f4f4;padding:.75rem;overflow:auto}dt{font-weight:600}"
    ".risk-high{color:#b00}.risk-medium{color:#a60}button{font-size:1rem;margin-right:.5rem;padding:.4rem 1rem}"
    "textarea{width:100%;min-height:4rem}"
)


def _secrets() -> dict[str, Any]:
    return notifications.approval_secrets(settings.approvals_secret_arn)


def _key() -> bytes:
    key = notifications.link_key(_secrets())
    if not key:
        raise RuntimeError("the approvals secret holds no link_key")
    return key


def _page(status: int, title: str, body: str) -> Response[str]:
    doc = (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<meta name=viewport content='width=device-width'><style>{STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return Response(
        status_code=status, content_type="text/html; charset=utf-8", body=doc, headers=HEADERS
    )


@app.exception_handler(AiosError)
def _domain_error(exc: AiosError) -> Response[str]:
    status = next((s for cls, s in HTTP_STATUS.items() if isinstance(exc, cls)), 400)
    titles = {
        403: "Forbidden",
        404: "Not found",
        409: "Already decided",
        410: "Expired",
        401: "Unauthorized",
    }
    logger.info("approval request refused", extra={"code": exc.code, "status": status})
    return _page(
        status, titles.get(status, "Cannot decide"), f"<p id=message>{html.escape(exc.message)}</p>"
    )


def _approver(approval_id: str, token: str | None) -> str:
    return approvals.verify_link_token(_key(), approval_id, token or "")


def _render(approval_id: str, approver: str, token: str) -> str:
    ctx = approvals.page_context(approval_id)
    data, action, case = ctx["approval"], ctx["action"], ctx["case"]
    spec = get_spec(str(case["process"]))
    rule = next(r for r in spec.policy.approval.rules if r.name == data["rule"])
    esc = html.escape
    decisions = (
        "".join(
            f"<li>{esc(d['approver'])}: {esc(d['decision'])} at {esc(d['at'])}</li>"
            for d in data["decisions"]
        )
        or "<li>none yet</li>"
    )
    changes = approvals.changes_allowed(data)
    risk = esc(str(action.get("risk")))
    return (
        f"<p id=summary>{esc(str(ctx['plan'].get('summary') or ''))}</p>"
        f"<dl><dt>Case</dt><dd>{esc(case['case_id'])} ({esc(str(case['process']))})</dd>"
        f"<dt>Action</dt><dd><code id=capability>{esc(str(action.get('capability')))}</code></dd>"
        f"<dt>Risk</dt><dd id=risk class='risk-{risk}'>{risk}</dd>"
        f"<dt>Why</dt><dd id=reason>{esc(str(action.get('reason') or ''))}</dd>"
        f"<dt>Parameters</dt><dd><pre id=params>{esc(approvals.json_dump(action.get('params')))}</pre></dd>"
        f"<dt>Input</dt><dd><pre id=input>{esc(approvals.json_dump(case['input']))}</pre></dd>"
        f"<dt>Classification</dt><dd><pre>{esc(approvals.json_dump(ctx['plan'].get('classification')))}</pre></dd>"
        f"<dt>Policy</dt><dd>rule {esc(rule.name)}: {data['quorum']} of {len(data['approvers'])} approvers</dd>"
        f"<dt>Decisions</dt><dd><ul>{decisions}</ul></dd>"
        f"<dt>Decide before</dt><dd>{esc(approvals.expires_iso(int(data['expires_at'])))}</dd>"
        f"<dt>Digest</dt><dd><code>{esc(str(data['digest']))}</code></dd></dl>"
        f"<p>You are deciding as <b id=approver>{esc(approver)}</b>.</p>"
        f"<form method=post action='{esc(data['approval_id'])}'>"
        f"<input type=hidden name=t value='{esc(token)}'>"
        "<label for=comment>Comment</label><textarea id=comment name=comment maxlength=2000></textarea><p>"
        "<button name=decision value=approve>Approve</button>"
        "<button name=decision value=reject>Reject</button>"
        + ("<button name=decision value=changes>Request changes</button>" if changes else "")
        + "</p></form>"
    )


@app.get("/approvals/<approval_id>")
def show(approval_id: str) -> Response[str]:
    token = app.current_event.get_query_string_value("t")
    approver = _approver(approval_id, token)
    item = approvals.load_approval(approval_id)
    if item.status != "PENDING":
        data = dict(item.data or {})
        raise approvals.AlreadyDecided(approvals._decided_text(data, item.status or ""))
    return _page(200, "Approval needed", _render(approval_id, approver, token or ""))


def _answer(decided: approvals.Decided) -> None:
    """Tell the waiting task; its absence (a timeout won the race) is logged, not raised."""
    metrics.add_dimension(name="process", value=decided.process)
    if decided.status == "PENDING":
        return
    name = {"APPROVED": "ApprovalsApproved", "REJECTED": "ApprovalsRejected"}.get(
        decided.status, "ApprovalsChangesRequested"
    )
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    if decided.latency_seconds is not None:
        metrics.add_metric(
            name="ApprovalLatency", unit=MetricUnit.Seconds, value=decided.latency_seconds
        )
    if not decided.task_token:
        logger.warning("decided, but no task token is stored")
        return
    sfn = aws.client("stepfunctions")
    output = {"approval_id": decided.approval_id, "outcome": decided.outcome}
    try:
        if decided.revision is not None:
            # The case machine catches this error and plans again with the comment.
            sfn.send_task_failure(
                taskToken=decided.task_token,
                error=CHANGES_REQUESTED_ERROR,
                cause=json.dumps(decided.revision),
            )
            return
        sfn.send_task_success(taskToken=decided.task_token, output=json.dumps(output))
    except (
        sfn.exceptions.TaskTimedOut,
        sfn.exceptions.InvalidToken,
        sfn.exceptions.TaskDoesNotExist,
    ):
        logger.warning("decided, but the case no longer waits for this approval")


@app.post("/approvals/<approval_id>")
def decide(approval_id: str) -> Response[str]:
    form = {
        k: v[-1]
        for k, v in parse_qs(app.current_event.decoded_body or "", max_num_fields=10).items()
    }
    token = form.get("t") or app.current_event.get_query_string_value("t")
    approver = _approver(approval_id, token)
    logger.append_keys(action_id=approval_id)
    decided = approvals.decide(
        approval_id, approver, form.get("decision", ""), form.get("comment", ""), via="link"
    )
    _answer(decided)
    text = {
        "APPROVED": "Approved: the action will run.",
        "REJECTED": "Rejected: the action will not run.",
        "CHANGES_REQUESTED": "Changes requested: the case goes back to planning with your comment.",
        "PENDING": "Recorded: waiting for the other approvers.",
    }[decided.status]
    return _page(200, "Thank you", f"<p id=message>{html.escape(text)}</p>")


@app.post("/slack/interactions")
def slack_interaction() -> Response[str]:
    event = app.current_event
    body = event.decoded_body or ""
    values = _secrets()
    slack.verify_signature(
        str(values.get("slack_signing_secret") or ""),
        event.headers.get("X-Slack-Request-Timestamp"),
        event.headers.get("X-Slack-Signature"),
        body,
    )
    payload = json.loads(parse_qs(body).get("payload", ["{}"])[-1])
    [choice] = payload.get("actions", [])[:1] or [{}]
    approval_id, _, decision = str(choice.get("value", "")).partition("|")
    user = str((payload.get("user") or {}).get("id", ""))
    item = approvals.load_approval(approval_id)
    spec = get_spec(str((item.data or {})["process"]))
    approver = next(
        (name for name, p in spec.policy.approval.approvers.items() if p.slack_user == user), None
    )
    if approver is None:
        raise approvals.LinkForbidden(f"Slack user {user} is not an approver")
    decided = approvals.decide(approval_id, approver, decision, via="slack")
    _answer(decided)
    token = str(values.get("slack_bot_token") or "")
    container = payload.get("container") or {}
    if token and container.get("channel_id") and container.get("message_ts"):
        try:
            slack.call(load_settings().slack_api_url, token, "chat.update", {
                "channel": container["channel_id"], "ts": container["message_ts"],
                "text": f"{decided.status.lower()} by {approver} (via Slack)", "blocks": [],
            })  # fmt: skip
        except Exception:
            logger.exception("slack message update failed")
    return Response(
        status_code=200,
        content_type="application/json",
        body=json.dumps(
            {"text": f"{decided.status.lower()} by {approver}", "at": int(time.time())}
        ),
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
