"""Persistence: the canonical ledger and the decision store. All reads and writes of these
tables go through this package; domain modules call its functions and never build items.

The ledger is one DynamoDB table, one pynamodb model (`LedgerItem`), keyed by `pk`/`sk`:

| item     | pk                   | sk                     |
| -------- | -------------------- | ---------------------- |
| case     | `CASE#<case_id>`     | `CASE`                 |
| plan     | `CASE#<case_id>`     | `PLAN#<plan_id>`       |
| action   | `CASE#<case_id>`     | `ACTION#<index:03d>`   |
| handoff  | `CASE#<case_id>`     | `HANDOFF#<handoff_id>` |
| approval | `CASE#<case_id>`     | `APPROVAL#<id>`        |
| audit    | `CASE#<case_id>`     | `AUDIT#<seq:010d>`     |
| entity   | `ENTITY#<key>`       | `ENTITY`               |
| rejection| `REJECTION#<msg id>` | `REJECTION`            |

Every change to a case is written by `commit` (or `transition_case`), which appends its audit
events and moves the case's audit head in the same transaction: a change without its audit
record cannot happen. The decision store (`decision_store`, model `DecisionItem`) holds the
model-output cache and the daily budgets.

The sparse `Queues` index (`queue`, `queued_at`; keys only) lists what waits for people or was
refused: handed-off and failed cases, pending approvals, rejected actions and orphan
rejections. `commit` keeps an item's `queue` in step with the status it writes
(`repository.QUEUES`); `handoffs.queued` reads a queue.
"""

from aios.ledger.entities import Entity, entity_pk, get_entity, stage_entity_write
from aios.ledger.handoffs import (
    case_holder,
    get_handoff,
    get_items,
    hold_case,
    move_case,
    queued,
    release_case,
    set_task_token,
    stage_handoff_change,
)
from aios.ledger.history import RecordedDecision, recorded_decisions
from aios.ledger.models import (
    QUEUE_INDEX,
    DecisionItem,
    LedgerItem,
    bind_decision_store,
    bind_ledger,
)
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
    handoff_sk,
    load_audit,
    load_case_items,
    now_iso,
    put_rejection,
    queue_for,
    stage_action,
    stage_handoff,
    stage_plan,
    stage_status,
    transition_case,
)

__all__ = [
    "QUEUE_INDEX",
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
    "case_holder",
    "case_pk",
    "commit",
    "create_case",
    "entity_pk",
    "get_action",
    "get_case",
    "get_entity",
    "get_handoff",
    "get_items",
    "handoff_sk",
    "hold_case",
    "load_audit",
    "load_case_items",
    "move_case",
    "now_iso",
    "put_rejection",
    "queue_for",
    "queued",
    "recorded_decisions",
    "release_case",
    "set_task_token",
    "stage_action",
    "stage_entity_write",
    "stage_handoff",
    "stage_handoff_change",
    "stage_plan",
    "stage_status",
    "transition_case",
]
