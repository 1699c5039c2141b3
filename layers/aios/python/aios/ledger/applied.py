"""Applied-action records: `pk = APPLIED#<action_id>`, `sk = APPLIED`, owned by the execution plane.

The execution plane writes one when it applies an action, in the same transaction that marks the
action item APPLIED, and it is the record the execution plane trusts when it asks "was this
applied already?". The key space `APPLIED#` is writable only by the execution plane's role
(`dynamodb:LeadingKeys`, see stacks/ledger.py), so a decision-plane role that sets an action
item's status to APPLIED can never make a message be answered with a result nobody applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import DoesNotExist

from aios.ledger.models import LedgerItem
from aios.ledger.repository import Put

APPLIED_PREFIX = "APPLIED#"
APPLIED_SK = "APPLIED"


def applied_pk(action_id: str) -> str:
    return f"{APPLIED_PREFIX}{action_id}"


@dataclass(frozen=True)
class AppliedRecord:
    action_id: str
    case_id: str
    digest: str
    result: dict[str, Any]
    at: str


def stage_applied(
    action_id: str, *, case_id: str, digest: str, result: dict[str, Any], at: str
) -> Put:
    """The applied record of `action_id`; the commit fails if one exists (applied once)."""
    return Put(
        LedgerItem(
            applied_pk(action_id),
            APPLIED_SK,
            kind="applied",
            status="APPLIED",
            data={"case_id": case_id, "digest": digest},
            result=result,
            created_at=at,
            updated_at=at,
        )
    )


def get_applied(action_id: str) -> AppliedRecord | None:
    """The applied record of `action_id`, read consistently; None when it was never applied."""
    try:
        item = LedgerItem.get(applied_pk(action_id), APPLIED_SK, consistent_read=True)
    except DoesNotExist:
        return None
    data = dict(item.data or {})
    return AppliedRecord(
        action_id=action_id,
        case_id=str(data.get("case_id", "")),
        digest=str(data.get("digest", "")),
        result=dict(item.result or {}),
        at=item.created_at or "",
    )
