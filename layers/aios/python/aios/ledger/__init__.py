"""Persistence: the canonical ledger and the decision store. All reads and writes of these
tables go through this package; domain modules call its functions and never build items.

The ledger is one DynamoDB table, one pynamodb model (`LedgerItem`), keyed by `pk`/`sk`:

| item     | pk                   | sk                     |
| -------- | -------------------- | ---------------------- |
| case     | `CASE#<case_id>`     | `CASE`                 |
| plan     | `CASE#<case_id>`     | `PLAN#<plan_id>`       |
| action   | `CASE#<case_id>`     | `ACTION#<index:03d>`   |
| handoff  | `CASE#<case_id>`     | `HANDOFF`              |
| approval | `CASE#<case_id>`     | `APPROVAL#<id>`        |
| audit    | `CASE#<case_id>`     | `AUDIT#<seq:010d>`     |
| entity   | `ENTITY#<key>`       | `ENTITY`               |
| unique   | `ENTITY#<key>`       | `UNIQUE#<capability>`  |
| control  | `CONTROL`            | `REVOCATIONS`, `AUDIT#<seq:010d>` |

Every change to a case is written by `commit` (or `transition_case`), which appends its audit
events and moves the case's audit head in the same transaction: a change without its audit
record cannot happen. The decision store (`decision_store`, model `DecisionItem`) holds the
model-output cache and the daily budgets.
"""

from aios.ledger.entities import (
    Entity,
    claim_unique,
    entity_pk,
    get_entity,
    release_unique,
    stage_entity_write,
    stage_unique_applied,
    unique_holder,
)
from aios.ledger.history import RecordedDecision, recorded_decisions
from aios.ledger.models import DecisionItem, LedgerItem, bind_decision_store, bind_ledger
from aios.ledger.repository import (
    CaseRecord,
    Put,
    Update,
    action_sk,
    action_status_update,
    case_pk,
    commit,
    create_case,
    get_action,
    get_case,
    load_audit,
    load_case_items,
    now_iso,
    put_rejection,
    stage_action,
    stage_handoff,
    stage_plan,
    stage_status,
    transition_case,
)

__all__ = [
    "CaseRecord",
    "DecisionItem",
    "Entity",
    "LedgerItem",
    "Put",
    "RecordedDecision",
    "Update",
    "action_sk",
    "action_status_update",
    "bind_decision_store",
    "bind_ledger",
    "case_pk",
    "claim_unique",
    "commit",
    "create_case",
    "entity_pk",
    "get_action",
    "get_case",
    "get_entity",
    "load_audit",
    "load_case_items",
    "now_iso",
    "put_rejection",
    "recorded_decisions",
    "release_unique",
    "stage_action",
    "stage_entity_write",
    "stage_handoff",
    "stage_plan",
    "stage_status",
    "stage_unique_applied",
    "transition_case",
    "unique_holder",
]
