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
from pynamodb.models import Model


class LedgerItem(Model):
    """An item of the ledger table; `kind` says which of case, plan, action, audit it is."""

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
