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


# -- uniqueness claims: `pk = ENTITY#<entity_key>`, `sk = UNIQUE#<capability>`

UNIQUE_PREFIX = "UNIQUE#"
RELEASED = "RELEASED"


def unique_sk(capability: str) -> str:
    return f"{UNIQUE_PREFIX}{capability}"


def unique_holder(entity_key: str, capability: str) -> str | None:
    """The action holding the entity's uniqueness claim for `capability`, if one holds it."""
    try:
        item = LedgerItem.get(entity_pk(entity_key), unique_sk(capability), consistent_read=True)
    except DoesNotExist:
        return None
    return None if item.status == RELEASED else item.head


def claim_unique(
    entity_key: str, capability: str, *, action_id: str, case_id: str, at: str
) -> bool:
    """Claim the entity's one `capability` action for `action_id`; False when another action
    holds it. Claiming again for the same action succeeds (a redelivery)."""
    from pynamodb.exceptions import PutError

    item = LedgerItem(
        entity_pk(entity_key),
        unique_sk(capability),
        kind="unique",
        status="CLAIMED",
        head=action_id,
        data={"case_id": case_id, "capability": capability},
        created_at=at,
        updated_at=at,
    )
    try:
        item.save(
            condition=LedgerItem.pk.does_not_exist()
            | (LedgerItem.status == RELEASED)
            | (LedgerItem.head == action_id)
        )
    except PutError as exc:
        if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def release_unique(entity_key: str, capability: str, *, action_id: str, at: str) -> None:
    """Give the claim back when its action will never apply (refused or failed for good)."""
    from pynamodb.exceptions import UpdateError

    try:
        LedgerItem(entity_pk(entity_key), unique_sk(capability)).update(
            actions=[LedgerItem.status.set(RELEASED), LedgerItem.updated_at.set(at)],
            condition=(LedgerItem.head == action_id) & (LedgerItem.status != RELEASED),
        )
    except UpdateError as exc:
        if getattr(exc, "cause_response_code", None) != "ConditionalCheckFailedException":
            raise


def stage_unique_applied(entity_key: str, capability: str, *, action_id: str, at: str) -> Update:
    """Inside the apply transaction: the claim must still be this action's; it becomes APPLIED."""
    return Update(
        LedgerItem(entity_pk(entity_key), unique_sk(capability)),
        actions=[LedgerItem.status.set("APPLIED"), LedgerItem.updated_at.set(at)],
        condition=(LedgerItem.head == action_id) & (LedgerItem.status != RELEASED),
    )
