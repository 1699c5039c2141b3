"""Approval notifications: each approver's email (SES, HTML and text) and Slack direct message
(Block Kit, bot token from the approvals secret), each carrying that approver's own link.

Used by the approval request function (first notice, escalations) and the reminders function.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from typing import Any

from aios import approvals, aws, slack
from aios.approvals import Notice, ReviewContext
from aios.settings import Settings

logger = logging.getLogger(__name__)
SECRET_MAX_AGE_SECONDS = 300


def approval_secrets(secret_arn: str) -> dict[str, Any]:
    """The approvals secret (link_key, slack_bot_token, slack_signing_secret), cached briefly."""
    from aws_lambda_powertools.utilities.parameters import get_secret

    values: Any = get_secret(secret_arn, transform="json", max_age=SECRET_MAX_AGE_SECONDS)
    return values if isinstance(values, dict) else {}


def link_key(values: dict[str, Any]) -> bytes:
    """The key that signs link tokens; RuntimeError if the secret holds none (a deployment
    fault, not a request's)."""
    raw = str(values.get("link_key") or "")
    if not raw:
        raise RuntimeError("the approvals secret holds no link_key")
    return base64.urlsafe_b64decode(raw + "==")


def request_decision(
    approval_id: str, level: int, task_token: str, settings: Settings
) -> list[str]:
    """Keep the task token of the approval's `level`, then notify that level's approvers;
    returns who was reached (and remembers it in the record)."""
    record = approvals.store_task_token(approval_id, level, task_token)
    sent = notify_approvers(approval_id, list(record.approvers), settings)
    approvals.mark_notified(approval_id, sent)
    return sent


@dataclass(frozen=True)
class Reminder:
    """One approval whose approvers were reminded at its current level."""

    approval: approvals.ApprovalRecord
    sent: list[str]


def send_reminders(settings: Settings, now: float | None = None) -> list[Reminder]:
    """Remind the approvers of every approval due a reminder, once per level: each reminder
    is claimed on the record before it is sent (see `aios.approvals.reminders`)."""
    reminded: list[Reminder] = []
    for record in approvals.due_reminders(now):
        if not approvals.claim_reminder(record):
            continue  # another run, a decision or an escalation got there first
        sent = notify_approvers(record.approval_id, record.approvers, settings, reminder=True)
        reminded.append(Reminder(record, sent))
    return reminded


def notify_approvers(
    approval_id: str, approvers: list[str], settings: Settings, reminder: bool = False
) -> list[str]:
    """Email and Slack each approver; returns who was reached on at least one channel.

    A failed channel is logged and the others still go out.
    """
    values = approval_secrets(settings.approvals_secret_arn)
    key = link_key(values)
    token = str(values.get("slack_bot_token") or "")
    ctx = approvals.page_context(approval_id)
    sent: set[str] = set()
    for notice in approvals.notices(ctx, settings.public_api_url, key, approvers, reminder):
        if notice.email and settings.approvals_sender and _email(notice, settings):
            sent.add(notice.approver)
        if notice.slack_user and token and _slack(notice, ctx, token, settings):
            sent.add(notice.approver)
    return sorted(sent)


def send_email(sender: str, to: str, subject: str, text: str, html: str) -> bool:
    """Send one text+HTML email through SES; False (logged) when SES refuses it.

    One channel failing must not hide the others, so callers try every channel and report
    who was reached.
    """
    try:
        aws.client("ses").send_email(
            Source=sender,
            Destination={"ToAddresses": [to]},
            Message={
                "Subject": {"Data": subject, "Charset": "UTF-8"},
                "Body": {
                    "Text": {"Data": text, "Charset": "UTF-8"},
                    "Html": {"Data": html, "Charset": "UTF-8"},
                },
            },
        )
    except Exception:  # a boundary: record and go on with the next channel
        logger.exception("email failed", extra={"subject": subject})
        return False
    return True


def _email(notice: Notice, settings: Settings) -> bool:
    return send_email(
        settings.approvals_sender or "",
        notice.email or "",
        notice.subject,
        notice.text,
        notice.html,
    )


def _slack(notice: Notice, ctx: ReviewContext, token: str, settings: Settings) -> bool:
    approval_id = ctx.approval.approval_id
    blocks = slack.approval_blocks(
        approval_id,
        ctx.summary,
        ctx.action,
        ctx.risk,
        notice.link,
        approvals.changes_allowed(ctx.approval),
    )
    try:
        answer = slack.call(
            settings.slack_api_url,
            token,
            "chat.postMessage",
            {
                "channel": notice.slack_user,  # a direct message to the approver
                "text": notice.subject,
                "blocks": blocks,
                "metadata": {
                    "event_type": "aios_approval",
                    "event_payload": {"approval_id": approval_id},
                },
            },
        )
    except Exception:  # one channel failing must not hide the others
        logger.exception("approval slack message failed", extra={"approver": notice.approver})
        return False
    if not answer.get("ok", True):
        logger.warning("slack refused the message", extra={"error": answer.get("error")})
    return True
