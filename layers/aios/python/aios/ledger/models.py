"""The pynamodb models of the tables the ledger package owns: one model per table.

Only the repositories of this package use them; domain modules call repository functions.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    JSONAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection
from pynamodb.models import Model

QUEUE_INDEX = "Queues"
BY_PROCESS_INDEX = "ByProcess"
AUDIT_PERIOD_INDEX = "AuditPeriods"


class QueueIndex(GlobalSecondaryIndex["LedgerItem"]):  # type: ignore[no-untyped-call]
    """The operator queues: a sparse index over the items that wait for people or were refused
    (`queue` is set only while an item is in a queue), oldest first by `queued_at`."""

    class Meta:
        index_name = QUEUE_INDEX
        projection = KeysOnlyProjection()

    queue = UnicodeAttribute(hash_key=True)
    queued_at = UnicodeAttribute(range_key=True)


class ByProcessIndex(GlobalSecondaryIndex["LedgerItem"]):  # type: ignore[no-untyped-call]
    """Sparse index of case items (only they carry `process`): a process's cases by creation
    time, with their status, for the KPIs and the reconciler."""

    class Meta:
        index_name = BY_PROCESS_INDEX
        projection = IncludeProjection(["status", "updated_at"])

    process = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class AuditPeriodIndex(GlobalSecondaryIndex["LedgerItem"]):  # type: ignore[no-untyped-call]
    """Sparse index of audit chain heads by the hour they last moved (`audit_period`, set only
    on head items and only when the hour changes): the chains an audit checkpoint anchors,
    without a scan. Keys only, so a head moving within the hour writes nothing to it."""

    class Meta:
        index_name = AUDIT_PERIOD_INDEX
        projection = KeysOnlyProjection()

    audit_period = UnicodeAttribute(hash_key=True)
    pk = UnicodeAttribute(range_key=True)


class LedgerItem(Model):
    """An item of the ledger table; `kind` says which of case, plan, action, audit, handoff,
    approval, entity or rejection it is."""

    class Meta:
        table_name = "aios-ledger-unbound"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    status = UnicodeAttribute(null=True)
    data: Any = JSONAttribute(null=True)
    result: Any = JSONAttribute(null=True)
    error: Any = JSONAttribute(null=True)
    seq = NumberAttribute(null=True)
    head = UnicodeAttribute(null=True)
    prev_hash = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)
    holder = UnicodeAttribute(null=True)
    """A handed-off case: the operator who took it (compare-and-set on take)."""
    task_token = UnicodeAttribute(null=True)
    """A handoff: the task token the case machine waits on; never shown to anyone."""
    queue = UnicodeAttribute(null=True)
    queued_at = UnicodeAttribute(null=True)
    queue_index = QueueIndex()
    process = UnicodeAttribute(null=True)
    """Only on case items: the key of the sparse `ByProcess` index."""
    by_process = ByProcessIndex()
    audit_period = UnicodeAttribute(null=True)
    """Only on audit chain heads: the UTC hour (`YYYY-MM-DDTHH`) the head last moved, the key
    of the sparse `AuditPeriods` index (aios.ledger.chains)."""
    audit_periods = AuditPeriodIndex()


class DecisionItem(Model):
    """An item of the decision store; `kind` is `cache` or `budget`."""

    class Meta:
        table_name = "aios-decisions-unbound"

    pk = UnicodeAttribute(hash_key=True, attr_name="item_key")
    kind = UnicodeAttribute()
    value: Any = JSONAttribute(null=True)
    spent_micros = NumberAttribute(null=True)
    spent_tokens = NumberAttribute(null=True)
    created_at = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)


def bind_ledger(table_name: str) -> None:
    """Point the model at the deployed table (named by the environment, not by code)."""
    if LedgerItem.Meta.table_name != table_name:
        LedgerItem.Meta.table_name = table_name
        LedgerItem._connection = None


def bind_decision_store(table_name: str) -> None:
    """Point the model at the deployed table (named by the environment, not by code)."""
    if DecisionItem.Meta.table_name != table_name:
        DecisionItem.Meta.table_name = table_name
        DecisionItem._connection = None
