"""Approval notifications: each approver's email (SES, HTML and text) and Slack direct message
(Block Kit, bot token from the approvals secret), each carrying that approver's own link.

Used by the approval request function (first notice, escalations) and the reminders function.
"""

from __future__ import annotations

import base64
import logging
from typing import Any

from aios import approvals, aws, slack
from aios.settings import Settings

logger = logging.getLogger(__name__)
SECRET_MAX_AGE_SECONDS = 300


def approval_secrets(secret_arn: str) -> dict[str, Any]:
    """The approvals secret (link_key, slack_bot_token, slack_signing_secret), cached briefly."""
    from aws_lambda_powertools.utilities.parameters import get_secret

    values: Any = get_secret(secret_arn, transform="json", max_age=SECRET_MAX_AGE_SECONDS)
    return values if isinstance(values, dict) else {}


def link_key(values: dict[str, Any]) -> bytes:
    raw = str(values.get("link_key") or "")
    return base64.urlsafe_b64decode(raw + "==") if raw else b""


def notify_approvers(
    approval_id: str, approvers: list[str], settings: Settings, reminder: bool = False
) -> list[str]:
    """Email and Slack each approver; returns who was reached on at least one channel.

    A failed channel is logged and the others still go out.
    """
    values = approval_secrets(settings.approvals_secret_arn)
    key = link_key(values)
    if not key:
        raise RuntimeError("the approvals secret holds no link_key")
    token = str(values.get("slack_bot_token") or "")
    data = dict(approvals.load_approval(approval_id).data or {})
    ctx = approvals.page_context(approval_id)
    sent: set[str] = set()
    for notice in approvals.notices(approval_id, settings.public_api_url, key, approvers, reminder):
        if notice.email and settings.approvals_sender:
            try:
                aws.client("ses").send_email(
                    Source=settings.approvals_sender,
                    Destination={"ToAddresses": [notice.email]},
                    Message={
                        "Subject": {"Data": notice.subject, "Charset": "UTF-8"},
                        "Body": {
                            "Text": {"Data": notice.text, "Charset": "UTF-8"},
                            "Html": {"Data": notice.html, "Charset": "UTF-8"},
                        },
                    },
                )
                sent.add(notice.approver)
            except Exception:  # one channel failing must not hide the others
                logger.exception("approval email failed", extra={"approver": notice.approver})
        if notice.slack_user and token:
            blocks = slack.approval_blocks(
                approval_id,
                str(ctx["plan"].get("summary") or ""),
                ctx["action"],
                str(ctx["action"].get("risk")),
                notice.link,
                approvals.changes_allowed(data),
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
                if not answer.get("ok", True):
                    logger.warning(
                        "slack refused the message", extra={"error": answer.get("error")}
                    )
                sent.add(notice.approver)
            except Exception:
                logger.exception(
                    "approval slack message failed", extra={"approver": notice.approver}
                )
    return sorted(sent)
