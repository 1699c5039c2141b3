"""Deciding an approval from the console: the same decision as a link's, by a signed-in person.

The console user must hold the `approver` role for the approval's process, and their verified
email must be the address of one of that process's approvers (`policy.approval.approvers`):
they then decide as that approver, through `aios.approvals.decide` — quorum, one decision per
approver, bound to the action's digest, expiry — and the decision that closes the approval
answers the waiting task exactly as a link's would. The emailed links keep working: both doors
lead to the same compare-and-set on the approval record.
"""

from __future__ import annotations

from aios import approvals
from aios.errors import LinkForbidden
from aios.operator import Operator, require
from aios.specs import get_spec


def approver_name(process: str, email: str) -> str:
    """The process's approver whose address is `email`; raises LinkForbidden."""
    people = get_spec(process).policy.approval.approvers
    wanted = email.strip().lower()
    name = next(
        (n for n, p in people.items() if wanted and (p.email or "").lower() == wanted), None
    )
    if name is None:
        raise LinkForbidden(f"{email or 'this account'} is not an approver of {process}")
    return name


def decide_approval(
    approval_id: str, operator: Operator, decision: str, comment: str = ""
) -> approvals.Decided:
    """One console user's decision, applied at most once and passed on to the waiting task.

    Raises Forbidden (role), LinkForbidden (not an approver of this process or level),
    AlreadyDecided, LinkExpired, ChangesNotAllowed, InvalidDecision, ApprovalNotFound.
    """
    record = approvals.load_approval(approval_id)
    require(operator, "approver", record.process)
    name = approver_name(record.process, operator.email or "")
    decided = approvals.decide(approval_id, name, decision, comment, via="console")
    return approvals.answer_task(decided)
