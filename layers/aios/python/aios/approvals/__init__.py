"""Human approvals: records bound to an action's digest, signed single-use links, decisions.

An approval lives in its case's partition (`APPROVAL#<action id>`); its id is the action id.
The task token the state machine waits on is stored in the record, never in a link. A link
carries `<approver>.<expires>.<mac>`: an HMAC-SHA256 over (approval id, approver, expiry), so a
token works only for its approval, its approver and until the level's deadline. Deciding is a
compare-and-set on the record's version: each approver decides once, and the decision that
reaches the quorum moves the action PROPOSED -> APPROVED with a human attestation bound to the
action digest (or SKIPPED on rejection) in the same ledger transaction as its audit events.

One module per seam:

| module       | what it holds                                                        |
| ------------ | -------------------------------------------------------------------- |
| `links`      | signed link tokens and link URLs                                     |
| `records`    | the typed `ApprovalRecord`, reading and keeping it                   |
| `request`    | opening an approval for a PROPOSED action                            |
| `decide`     | a decision: compare-and-set, quorum, attestation; the revision       |
| `answers`    | a decision by link or Slack, passed on to the waiting task           |
| `escalation` | the next level, or the final timeout                                 |
| `reminders`  | which approvals are due a reminder, and claiming it once             |
| `notices`    | the review context and each approver's message                       |
| `page`       | the approval page and the answers to a decision (HTML)               |

Every read and write of the ledger goes through `aios.ledger`; the errors are in `aios.errors`.
"""

from aios.approvals.answers import (
    CHANGES_REQUESTED_ERROR,
    SlackApp,
    SlackRequest,
    answer_task,
    decide_by_link,
    decide_by_slack,
)
from aios.approvals.decide import Decided, Revision, decide, revision
from aios.approvals.escalation import Level, escalate, level_of
from aios.approvals.links import link_for, link_token, verify_link_token
from aios.approvals.notices import (
    Notice,
    ReviewContext,
    expires_iso,
    json_dump,
    notices,
    page_context,
)
from aios.approvals.page import HEADERS, decided_page, error_page, review_page
from aios.approvals.records import (
    DECISIONS,
    FINAL,
    ApprovalRecord,
    ApprovalStatus,
    Decision,
    DecisionEntry,
    StepResult,
    approval_id_for,
    case_id_of,
    changes_allowed,
    load_approval,
    mark_notified,
    store_task_token,
)
from aios.approvals.reminders import (
    claim_reminder,
    due_for_reminder,
    due_reminders,
    pending_approvals,
)
from aios.approvals.request import open_approval, rule_for
from aios.errors import (
    AlreadyDecided,
    ApprovalNotFound,
    ChangesNotAllowed,
    LinkExpired,
    LinkForbidden,
)

__all__ = [
    "CHANGES_REQUESTED_ERROR",
    "DECISIONS",
    "FINAL",
    "HEADERS",
    "AlreadyDecided",
    "ApprovalNotFound",
    "ApprovalRecord",
    "ApprovalStatus",
    "ChangesNotAllowed",
    "Decided",
    "Decision",
    "DecisionEntry",
    "Level",
    "LinkExpired",
    "LinkForbidden",
    "Notice",
    "ReviewContext",
    "Revision",
    "SlackApp",
    "SlackRequest",
    "StepResult",
    "answer_task",
    "approval_id_for",
    "case_id_of",
    "changes_allowed",
    "claim_reminder",
    "decide",
    "decide_by_link",
    "decide_by_slack",
    "decided_page",
    "due_for_reminder",
    "due_reminders",
    "error_page",
    "escalate",
    "expires_iso",
    "json_dump",
    "level_of",
    "link_for",
    "link_token",
    "load_approval",
    "mark_notified",
    "notices",
    "open_approval",
    "page_context",
    "pending_approvals",
    "review_page",
    "revision",
    "rule_for",
    "store_task_token",
    "verify_link_token",
]
