"""What a reviewer is shown: the review context, and each approver's message (text and HTML).

Every message carries its approver's own link (see `aios.approvals.links`); sending them is
`aios.notifications`'s job.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from aios.approvals.links import link_for
from aios.approvals.records import ApprovalRecord, load_approval
from aios.ledger import get_action, get_case, load_case_items
from aios.specs import get_spec


class ReviewContext(BaseModel):
    """What a reviewer needs to decide: the input, the plan's reasons, the exact action."""

    model_config = ConfigDict(frozen=True)

    approval: ApprovalRecord
    case_id: str
    process: str
    input: Any
    summary: str
    classification: Any
    action: dict[str, Any]

    @property
    def risk(self) -> str:
        return str(self.action.get("risk"))


def page_context(approval_id: str) -> ReviewContext:
    """The review context of an approval, read from the ledger."""
    record = load_approval(approval_id)
    case = get_case(record.case_id)
    stored = get_action(record.case_id, record.index)
    action = dict((stored.data if stored is not None else None) or {})
    plan = next(
        (
            dict(i.data or {})
            for i in load_case_items(record.case_id)
            if i.kind == "plan" and (i.data or {}).get("plan_id") == action.get("plan_id")
        ),
        {},
    )
    return ReviewContext(
        approval=record,
        case_id=case.case_id,
        process=str(case.data.get("process")),
        input=case.data.get("input"),
        summary=str(plan.get("summary") or ""),
        classification=plan.get("classification"),
        action=action,
    )


def expires_iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def json_dump(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class Notice:
    """One message to one approver: email and/or Slack, with that approver's own link."""

    approver: str
    email: str | None
    slack_user: str | None
    link: str
    subject: str
    text: str
    html: str


def notices(
    ctx: ReviewContext, base_url: str, key: bytes, approvers: list[str], reminder: bool = False
) -> list[Notice]:
    """The messages for `approvers` of an approval (HTML and text, each with its link);
    a name the process does not know gets none."""
    people = get_spec(ctx.process).policy.approval.approvers
    expires = ctx.approval.expires_at
    out: list[Notice] = []
    for approver in approvers:
        person = people.get(approver)
        if person is None:
            continue
        link = link_for(base_url, key, ctx.approval.approval_id, approver, expires)
        subject, text, body = _message(ctx, link, reminder)
        out.append(Notice(approver, person.email, person.slack_user, link, subject, text, body))
    return out


def _message(ctx: ReviewContext, link: str, reminder: bool) -> tuple[str, str, str]:
    """(subject, text, HTML) of the message that carries `link`."""
    action = ctx.action
    capability, reason = str(action.get("capability")), str(action.get("reason"))
    params = json_dump(action.get("params"))
    deadline = expires_iso(ctx.approval.expires_at)
    prefix = "Reminder: " if reminder else ""
    subject = f"{prefix}Approval needed: {capability} for {ctx.process} ({ctx.risk} risk)"
    text = (
        f"{ctx.summary}\n\nAction: {capability}\nRisk: {ctx.risk}\n"
        f"Reason: {reason}\nParams:\n{params}\n\n"
        f"Decide before {deadline}: {link}\n"
    )
    esc = html.escape
    body = (
        f"<p>{esc(ctx.summary)}</p><p><b>Action</b>: <code>{esc(capability)}</code>"
        f" &middot; <b>Risk</b>: {esc(ctx.risk)}</p>"
        f"<p><b>Reason</b>: {esc(reason)}</p><pre>{esc(params)}</pre>"
        f'<p><a href="{esc(link)}">Review and decide</a> before {esc(deadline)}.</p>'
    )
    return subject, text, body
