"""The canonical ledger: cases, plans, actions, attestations and their audit chain.

One DynamoDB table, one pynamodb model (`LedgerItem`), keyed by `pk`/`sk`:

| item    | pk               | sk                     |
| ------- | ---------------- | ---------------------- |
| case    | `CASE#<case_id>` | `CASE`                 |
| plan    | `CASE#<case_id>` | `PLAN#<plan_id>`       |
| action  | `CASE#<case_id>` | `ACTION#<index:03d>`   |
| audit   | `CASE#<case_id>` | `AUDIT#<seq:010d>`     |

Every change to a case is written by `commit`, which appends its audit events and moves the
case's audit head in the same transaction: a change without its audit record cannot happen.
"""

from aios.ledger.models import LedgerItem, bind_ledger
from aios.ledger.repository import (
    CaseRecord,
    Put,
    Update,
    action_sk,
    case_pk,
    commit,
    create_case,
    get_action,
    get_case,
    load_audit,
    load_case_items,
    now_iso,
)

__all__ = [
    "CaseRecord",
    "LedgerItem",
    "Put",
    "Update",
    "action_sk",
    "bind_ledger",
    "case_pk",
    "commit",
    "create_case",
    "get_action",
    "get_case",
    "load_audit",
    "load_case_items",
    "now_iso",
]
