"""Slack: request signatures (v0), Block Kit approval messages, Web API calls.

The API base URL is configuration (`https://slack.com/api` on AWS; the loopback receiver in
the emulation), the bot token and signing secret come from Secrets Manager.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.request
from typing import Any
from urllib.parse import parse_qs

from pydantic import BaseModel, ConfigDict

from aios.errors import SlackSignatureInvalid

__all__ = [
    "Interaction",
    "SlackSignatureInvalid",
    "approval_blocks",
    "call",
    "parse_interaction",
    "sign",
    "verify_signature",
]

MAX_SKEW_SECONDS = 300


def sign(secret: str, timestamp: str, body: str) -> str:
    """`v0=` + hex HMAC-SHA256 of `v0:<timestamp>:<body>`, as Slack signs requests."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str, timestamp: str | None, signature: str | None, body: str, now: float | None = None
) -> None:
    """Raise SlackSignatureInvalid unless the request is Slack's and at most 5 minutes old."""
    if not secret or not timestamp or not signature or not timestamp.isdigit():
        raise SlackSignatureInvalid("missing Slack signature headers")
    if abs((time.time() if now is None else now) - int(timestamp)) > MAX_SKEW_SECONDS:
        raise SlackSignatureInvalid("stale Slack request timestamp")
    if not hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.encode()):
        raise SlackSignatureInvalid("bad Slack signature")


class Interaction(BaseModel):
    """A button press on an approval message: whose, which button, and where the message is."""

    model_config = ConfigDict(frozen=True)

    user: str
    value: str
    """The button's value: `<approval id>|<decision>`."""
    channel_id: str | None = None
    message_ts: str | None = None


def parse_interaction(body: str) -> Interaction:
    """The first action of an interaction request body (form field `payload`, JSON).

    Parse only after `verify_signature`: the body is the caller's until then.
    """
    payload = json.loads(parse_qs(body).get("payload", ["{}"])[-1])
    [choice] = payload.get("actions", [])[:1] or [{}]
    container = payload.get("container") or {}
    return Interaction(
        user=str((payload.get("user") or {}).get("id", "")),
        value=str(choice.get("value", "")),
        channel_id=container.get("channel_id"),
        message_ts=container.get("message_ts"),
    )


def call(
    base_url: str, token: str, method: str, payload: dict[str, Any], timeout: float = 5
) -> dict[str, Any]:
    """POST a Web API method (e.g. `chat.postMessage`) as JSON; the parsed answer."""
    request = urllib.request.Request(  # noqa: S310 - base URL is configuration
        f"{base_url.rstrip('/')}/{method}",
        data=json.dumps(payload).encode(),
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "Authorization": f"Bearer {token}",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310
        text = resp.read().decode() or "{}"
    try:
        answer = json.loads(text)
    except ValueError:
        answer = {}
    return answer if isinstance(answer, dict) else {}


def approval_blocks(
    approval_id: str,
    summary: str,
    action: dict[str, Any],
    risk: str,
    link: str | None,
    allow_changes: bool,
) -> list[dict[str, Any]]:
    """Block Kit: the summary, the exact action and risk, and the decision buttons."""
    params = json.dumps(action.get("params"), indent=1, sort_keys=True)[:2500]
    buttons: list[dict[str, Any]] = [
        {"type": "button", "text": {"type": "plain_text", "text": "Approve"}, "style": "primary",
         "action_id": "approve", "value": f"{approval_id}|approve"},
        {"type": "button", "text": {"type": "plain_text", "text": "Reject"}, "style": "danger",
         "action_id": "reject", "value": f"{approval_id}|reject"},
    ]  # fmt: skip
    if link:
        buttons.append(
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Open"},
                "url": link,
                "action_id": "open",
            }
        )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Approval needed"[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": summary[:2900]}},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*Action*\n`{action.get('capability')}`"},
            {"type": "mrkdwn", "text": f"*Risk*\n{risk}"},
        ]},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"```{params}```"}},
        {"type": "actions", "block_id": f"approval:{approval_id}"[:255], "elements": buttons},
    ]  # fmt: skip
    if allow_changes:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": "To request changes, open the page."}],
            }
        )
    return blocks
