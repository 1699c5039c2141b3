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
| finding  | `CASE#<case_id>`     | `FINDING#<kind>#<subject>` |
| entity   | `ENTITY#<key>`       | `ENTITY`               |
| unique   | `ENTITY#<key>`       | `UNIQUE#<capability>[#<param>=<value>]` |
| cap      | `ENTITY#<key>`       | `CAP#<capability>#<param>#<period>` |
| control  | `CONTROL`            | `REVOCATIONS`, `AUDIT#<seq:010d>` |
| rejection| `REJECTION#<msg id>` | `REJECTION`, `AUDIT#<seq:010d>` |
| applied  | `APPLIED#<action_id>`| `APPLIED`              |

Who may write which key space is decided in IAM by the partition key's prefix
(`dynamodb:LeadingKeys`, stacks/ledger.py): `ENTITY#`, `APPLIED#` and `REJECTION#` belong to
the execution plane alone; every other function writes `CASE#` only.

Every change to a case is written by `commit` (or `transition_case`), which appends its audit
events and moves the case's audit head in the same transaction: a change without its audit
record cannot happen. The decision store (`decision_store`, model `DecisionItem`) holds the
model-output cache and the daily budgets.

The sparse `Queues` index (`queue`, `queued_at`; keys only) lists what waits for people or was
refused: handed-off and failed cases, pending approvals, rejected actions and orphan
rejections. `commit` keeps an item's `queue` in step with the status it writes
(`repository.QUEUES`); `handoffs.queued` reads a queue.

Case items also carry `process`, the key of the sparse `ByProcess` index (`process`,
`created_at`; with `status`, `updated_at`), which lists a process's cases in a time window
(`cases_by_process`) for the KPIs and the reconciler. Audit chain heads (case, control and rejection
items) carry `audit_period`, the key of the sparse, keys-only `AuditPeriods` index: the UTC
hour the head last moved, which the audit checkpointer reads (`chains`, aios.anchor). The table streams its changes
(NEW_AND_OLD_IMAGES) to the case events publisher.
"""

from aios.ledger.applied import AppliedRecord, get_applied, stage_applied
from aios.ledger.entities import (
    Entity,
    cap_total,
    claim_cap,
    claim_unique,
    entity_pk,
    get_entity,
    release_cap,
    release_unique,
    stage_entity_write,
    stage_unique_applied,
    unique_holder,
)
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
    CaseRef,
    Put,
    Update,
    action_sk,
    action_status_update,
    case_pk,
    cases_by_process,
    commit,
    commit_ops,
    create_case,
    get_action,
    get_case,
    handoff_sk,
    iso,
    load_audit,
    load_case_items,
    load_plans,
    now_iso,
    put_rejection,
    queue_for,
    stage_action,
    stage_finding,
    stage_handoff,
    stage_plan,
    stage_status,
    transition_case,
)

__all__ = [
    "QUEUE_INDEX",
    "AppliedRecord",
    "CaseRecord",
    "CaseRef",
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
    "cap_total",
    "case_holder",
    "case_pk",
    "cases_by_process",
    "claim_cap",
    "claim_unique",
    "commit",
    "commit_ops",
    "create_case",
    "entity_pk",
    "get_action",
    "get_applied",
    "get_case",
    "get_entity",
    "get_handoff",
    "get_items",
    "handoff_sk",
    "hold_case",
    "iso",
    "load_audit",
    "load_case_items",
    "load_plans",
    "move_case",
    "now_iso",
    "put_rejection",
    "queue_for",
    "queued",
    "recorded_decisions",
    "release_cap",
    "release_case",
    "release_unique",
    "set_task_token",
    "stage_action",
    "stage_applied",
    "stage_entity_write",
    "stage_finding",
    "stage_handoff",
    "stage_handoff_change",
    "stage_plan",
    "stage_status",
    "stage_unique_applied",
    "transition_case",
    "unique_holder",
]
