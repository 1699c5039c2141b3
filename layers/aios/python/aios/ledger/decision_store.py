"""The decision store: one DynamoDB table for the model-output cache and the daily budgets.

Items are told apart by their key prefix: `CACHE#<tenant>#<digest>` (a validated model answer,
expiring by TTL) and `BUDGET#<tenant>#<process>#<day>` (the day's reserved and settled spend,
kept a few days for reports, then removed by TTL). The key formats and the limits are the
callers' (`aios.model_cache`, `aios.budget`); this module only reads and writes items.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.exceptions import UpdateError

from aios.ledger.models import DecisionItem


@dataclass(frozen=True)
class CachedValue:
    value: Any
    expires_at: datetime | None


def get_cached(key: str) -> CachedValue | None:
    """The cached value under `key` (an eventually consistent read), expired or not."""
    try:
        item = DecisionItem.get(key, consistent_read=False)
    except DecisionItem.DoesNotExist:
        return None
    return CachedValue(value=item.value, expires_at=item.expires_at)


def put_cached(key: str, value: Any, *, created_at: str, expires_at: datetime) -> None:
    """Store `value` under `key` until `expires_at`; the last writer wins."""
    DecisionItem(
        key, kind="cache", value=value, created_at=created_at, expires_at=expires_at
    ).save()


def reserve_spend(
    key: str, micros: int, tokens: int, *, max_micros: int, max_tokens: int, expires_at: datetime
) -> bool:
    """Add to the spend under `key` only if both totals stay within their maxima.

    One conditional UpdateItem, so concurrent callers can never reserve more than the maxima
    together. False when the reservation is refused (nothing is written).
    """
    condition = (
        DecisionItem.spent_micros.does_not_exist()
        | (DecisionItem.spent_micros <= max_micros - micros)
    ) & (
        DecisionItem.spent_tokens.does_not_exist()
        | (DecisionItem.spent_tokens <= max_tokens - tokens)
    )
    try:
        DecisionItem(key).update(
            actions=[
                DecisionItem.kind.set("budget"),
                DecisionItem.spent_micros.add(micros),
                DecisionItem.spent_tokens.add(tokens),
                DecisionItem.expires_at.set(expires_at),
            ],
            condition=condition,
        )
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def add_spend(key: str, micros: int, tokens: int) -> None:
    """Add (or with negative values give back) spend under `key`, unconditionally."""
    DecisionItem(key).update(
        actions=[DecisionItem.spent_micros.add(micros), DecisionItem.spent_tokens.add(tokens)]
    )


def get_spend(key: str) -> tuple[int, int]:
    """The spend under `key` as (USD micros, tokens), read consistently; zeros when absent."""
    try:
        item = DecisionItem.get(key, consistent_read=True)
    except DecisionItem.DoesNotExist:
        return 0, 0
    return int(item.spent_micros or 0), int(item.spent_tokens or 0)
