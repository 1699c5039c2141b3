"""The decision store: one DynamoDB table for the model-output cache and the daily budgets.

Items are told apart by their key prefix: `CACHE#<tenant>#<digest>` (a validated model answer,
expiring by TTL) and `BUDGET#<tenant>#<process>#<day>` (the day's reserved and settled spend,
kept a few days for reports, then removed by TTL).
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.models import Model


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


def bind_decision_store(table_name: str) -> None:
    """Point the model at the deployed table (named by the environment, not by code)."""
    if DecisionItem.Meta.table_name != table_name:
        DecisionItem.Meta.table_name = table_name
        DecisionItem._connection = None
