"""People in the loop: what the operator console does, through the same library as the planes.

The console reads the ledger and records people's moves here; it may not sign plans or execute
actions. One module per seam:

| module   | what it holds                                                              |
| -------- | -------------------------------------------------------------------------- |
| `roles`  | `Operator` (a signed-in person), `can` / `require` a role for a process    |
| `queues` | `list_queue`: handed-off and failed cases, pending approvals, rejections    |
| `page`   | `case_page`: a case from the verified ledger and its audit chain           |
| `moves`  | take, release, return to automation, act by hand, resolve, cancel          |

The handoff protocol the moves answer (waiting, notices, resuming) is `aios.handoffs`.
"""

from aios.errors import CaseNotWaiting, Forbidden, HandoffNotFound, HeldByOther
from aios.operator.moves import (
    act_by_hand,
    cancel,
    capability_forms,
    release,
    resolve,
    return_to_automation,
    take,
)
from aios.operator.page import (
    ActionView,
    ApprovalView,
    CasePage,
    HandoffView,
    PlanView,
    case_page,
)
from aios.operator.queues import KINDS, QueueEntry, QueueKind, list_queue
from aios.operator.roles import ROLES, Operator, Role, can, is_admin, require

__all__ = [
    "KINDS",
    "ROLES",
    "ActionView",
    "ApprovalView",
    "CaseNotWaiting",
    "CasePage",
    "Forbidden",
    "HandoffNotFound",
    "HandoffView",
    "HeldByOther",
    "Operator",
    "PlanView",
    "QueueEntry",
    "QueueKind",
    "Role",
    "act_by_hand",
    "can",
    "cancel",
    "capability_forms",
    "case_page",
    "is_admin",
    "list_queue",
    "release",
    "require",
    "resolve",
    "return_to_automation",
    "take",
]
