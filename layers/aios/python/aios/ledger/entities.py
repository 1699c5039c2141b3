"""Canonical entity state in the ledger: `pk = ENTITY#<entity_key>`, `sk = ENTITY`.

An entity's `seq` is its version and `head` the id of the action that wrote it last. Writes are
staged as ops for the transaction that marks the writing action APPLIED, and compare-and-set on
the version, so of two concurrent writers one wins and the other re-reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import DoesNotExist

from aios.ledger.models import LedgerItem
from aios.ledger.repository import Put, Update

ENTITY_SK = "ENTITY"


def entity_pk(entity_key: str) -> str:
    return f"ENTITY#{entity_key}"


@dataclass(frozen=True)
class Entity:
    key: str
    state: dict[str, Any]
    version: int
    written_by: str = ""
    """The id of the action that wrote this version."""


def get_entity(entity_key: str) -> Entity | None:
    """The entity as it is now, read consistently; None when no action has written it yet."""
    try:
        item = LedgerItem.get(entity_pk(entity_key), ENTITY_SK, consistent_read=True)
    except DoesNotExist:
        return None
    return Entity(
        key=entity_key,
        state=dict(item.data or {}),
        version=int(item.seq or 0),
        written_by=item.head or "",
    )


def stage_entity_write(
    entity_key: str, state: dict[str, Any], *, version: int, action_id: str
) -> Put | Update:
    """Write `state` as version `version + 1` by `action_id`.

    The op fails its commit unless the entity is still at `version` (0: it must not exist).
    """
    if version == 0:
        return Put(
            LedgerItem(
                entity_pk(entity_key),
                ENTITY_SK,
                kind="entity",
                data=state,
                seq=1,
                head=action_id,
            )
        )
    return Update(
        LedgerItem(entity_pk(entity_key), ENTITY_SK),
        actions=[
            LedgerItem.data.set(state),
            LedgerItem.seq.set(version + 1),
            LedgerItem.head.set(action_id),
        ],
        condition=LedgerItem.seq == version,
    )
