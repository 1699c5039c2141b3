"""Handoff notices: what the people who take over a case are told, by email and Slack.

A notice carries what a reviewer needs to pick the case up: the input, the classification, the
reason and detail, what the model proposed if anything, the memories the decision was given,
the model cost so far and a link to the case in the operator console. The channels are the
approvals' (SES from the approvals sender; Slack with the approvals secret's bot token): a
handler with an email gets a mail, one with a Slack user id a direct message, and the policy's
`slack_channel`, if any, a post. A failed channel is logged and the others still go out.
"""

from __future__ import annotations

import html as html_lib
import json
import logging
from dataclasses import dataclass
from typing import Any

from aios import slack
from aios.handoffs.records import HandoffRecord
from aios.ledger import get_case, load_case_items
from aios.notifications import approval_secrets, send_email
from aios.settings import Settings
from aios.specs import Approver, get_spec

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HandoffNotice:
    """One handoff's message: the same words for every handler, each by their channels."""

    subject: str
    text: str
    html: str
    link: str
    blocks: list[dict[str, Any]]


def case_link(settings: Settings, case_id: str) -> str:
    """The case in the operator console."""
    base = settings.console_url or f"{settings.public_api_url.rstrip('/')}/console"
    return f"{base.rstrip('/')}/cases/{case_id}"


def cost_so_far(case_id: str) -> float:
    """The model cost (USD) of every decision the case has had."""
    return round(
        sum(
            float(((i.data or {}).get("usage") or {}).get("cost_usd") or 0)
            for i in load_case_items(case_id)
            if i.kind in ("plan", "handoff")
        ),
        6,
    )


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def compose(record: HandoffRecord, settings: Settings, reminder: bool = False) -> HandoffNotice:
    """The notice of a handoff (a reminder once its SLA has passed)."""
    case = get_case(record.case_id)
    process = str(case.data.get("process"))
    link = case_link(settings, record.case_id)
    cost = cost_so_far(record.case_id)
    proposal = record.proposal or {}
    sections = [
        ("Reason", f"{record.reason}: {record.detail}".rstrip(": ")),
        ("Input", _dump(case.data.get("input"))),
        ("Classification", _dump(record.classification) if record.classification else "none"),
        ("Proposed plan", _dump(proposal) if proposal else "none (nothing was signed)"),
        (
            "Memories used",
            ", ".join(record.context_memories) + f"\n{record.memory_summary or ''}"
            if record.context_memories
            else "none",
        ),
        ("Model cost so far", f"USD {cost:.6f}"),
    ]
    prefix = "Reminder (SLA passed): " if reminder else ""
    subject = f"{prefix}Case handed off: {process} ({record.reason})"
    minutes = round(record.sla_seconds / 60)
    text = "\n\n".join(f"{title}:\n{body}" for title, body in sections)
    text += f"\n\nTake it within {minutes} minutes: {link}\n"
    esc = html_lib.escape
    html = "".join(f"<h3>{esc(t)}</h3><pre>{esc(b)}</pre>" for t, b in sections)
    html += f'<p><a href="{esc(link)}">Open the case in the console</a> (SLA {minutes} min).</p>'
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": subject[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": sections[0][1][:2900]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"```{sections[1][1][:2800]}```"}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"Model cost so far: USD {cost:.4f}"},
        },
        {
            "type": "actions",
            "block_id": f"handoff:{record.handoff_id}"[:255],
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Open in console"},
                    "url": link,
                    "action_id": "open",
                }
            ],
        },
    ]
    return HandoffNotice(subject=subject, text=text, html=html, link=link, blocks=blocks)


def send(record: HandoffRecord, settings: Settings, reminder: bool = False) -> list[str]:
    """Tell the process's handlers (and its Slack channel); returns who was reached."""
    spec = get_spec(str(get_case(record.case_id).data.get("process")))
    notice = compose(record, settings, reminder)
    token = str(approval_secrets(settings.approvals_secret_arn).get("slack_bot_token") or "")
    sent: set[str] = set()
    for name, person in sorted(spec.policy.handlers.items()):
        if _email(person, notice, settings) | _slack(person.slack_user, notice, token, settings):
            sent.add(name)
    channel = spec.policy.handoff.slack_channel
    if channel and _slack(channel, notice, token, settings):
        sent.add(f"#{channel}")
    if not sent:
        logger.warning("nobody was reached for a handoff", extra={"case_id": record.case_id})
    return sorted(sent)


def _email(person: Approver, notice: HandoffNotice, settings: Settings) -> bool:
    if not person.email or not settings.approvals_sender:
        return False
    return send_email(
        settings.approvals_sender, person.email, notice.subject, notice.text, notice.html
    )


def _slack(channel: str | None, notice: HandoffNotice, token: str, settings: Settings) -> bool:
    if not channel or not token:
        return False
    try:
        answer = slack.call(
            settings.slack_api_url,
            token,
            "chat.postMessage",
            {"channel": channel, "text": notice.subject, "blocks": notice.blocks},
        )
    except Exception:  # one channel failing must not hide the others
        logger.exception("handoff slack message failed")
        return False
    if not answer.get("ok", True):
        logger.warning("slack refused the message", extra={"error": answer.get("error")})
    return True
