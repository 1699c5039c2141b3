"""A person's answer, from their link or a Slack button: applied once, then passed on to the
case that waits for it.

The decision that closes an approval answers the state machine's waiting task: success with
the outcome, or, on "request changes", the `Aios.ChangesRequested` failure that the case
machine catches to plan again with the comment. A task that no longer waits (a timeout won
the race) is reported in `Decided.answered`, never raised.
"""

from __future__ import annotations

import logging

from pydantic import BaseModel, ConfigDict

from aios import slack, tasks
from aios.approvals.decide import Decided, decide
from aios.approvals.links import verify_link_token
from aios.approvals.records import load_approval
from aios.errors import LinkForbidden
from aios.specs import get_spec

logger = logging.getLogger(__name__)
# The Step Functions error the approval task fails with when a reviewer requests changes.
CHANGES_REQUESTED_ERROR = "Aios.ChangesRequested"


class SlackRequest(BaseModel):
    """An interaction request as Slack sent it: the signature headers and the raw body."""

    model_config = ConfigDict(frozen=True)

    timestamp: str | None
    signature: str | None
    body: str


class SlackApp(BaseModel):
    """The approvals app's Slack credentials (from the approvals secret) and API base URL."""

    model_config = ConfigDict(frozen=True)

    signing_secret: str
    bot_token: str
    api_url: str


def answer_task(decided: Decided) -> Decided:
    """Tell the waiting task a decision that closed the approval; `answered` says if it took it."""
    if not decided.closed or not decided.task_token:
        return decided
    if decided.revision is not None:
        # The case machine catches this error and plans again with the comment.
        answered = tasks.fail_task(
            decided.task_token, CHANGES_REQUESTED_ERROR, decided.revision.model_dump()
        )
    else:
        output = {
            "approval_id": decided.approval_id,
            "outcome": decided.outcome,
            "attestation": decided.attestation,
        }
        answered = tasks.succeed_task(decided.task_token, output)
    return decided.model_copy(update={"answered": answered})


def decide_by_link(
    key: bytes, approval_id: str, token: str, decision: str, comment: str
) -> Decided:
    """The decision of the approver the link token names, applied once and passed on."""
    approver = verify_link_token(key, approval_id, token)
    return answer_task(decide(approval_id, approver, decision, comment, via="link"))


def decide_by_slack(app: SlackApp, request: SlackRequest) -> Decided:
    """A Slack button press: only with Slack's fresh signature, only by a Slack user the
    process names as an approver; applied once, passed on, and the message updated."""
    slack.verify_signature(app.signing_secret, request.timestamp, request.signature, request.body)
    interaction = slack.parse_interaction(request.body)
    approval_id, _, decision = interaction.value.partition("|")
    people = get_spec(load_approval(approval_id).process).policy.approval.approvers
    approver = next((name for name, p in people.items() if p.slack_user == interaction.user), None)
    if approver is None:
        raise LinkForbidden(f"Slack user {interaction.user} is not an approver")
    decided = answer_task(decide(approval_id, approver, decision, via="slack"))
    _update_message(app, interaction, f"{decided.status.lower()} by {approver} (via Slack)")
    return decided


def _update_message(app: SlackApp, interaction: slack.Interaction, text: str) -> None:
    """Replace the buttons with the decision; the decision stands if Slack refuses."""
    if not (app.bot_token and interaction.channel_id and interaction.message_ts):
        return
    update = {"channel": interaction.channel_id, "ts": interaction.message_ts, "text": text}
    try:
        slack.call(app.api_url, app.bot_token, "chat.update", {**update, "blocks": []})
    except Exception:  # the boundary of a best-effort courtesy: log, never fail the decision
        logger.exception("slack message update failed")
