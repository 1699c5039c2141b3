"""`ledger.update_entity`: canonical entity state in the ledger, with optimistic locking.

The entity write is not applied by the executor: it becomes part of the one transaction that
also marks the action APPLIED and appends its audit event. The entity's `version` is
compare-and-set, so of two concurrent actions on one entity one wins and the other re-reads
and lands on the new version.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aios.capabilities import ActionContext, Capability, Risk
from aios.errors import TerminalActionError
from aios.ledger import get_entity, stage_entity_write


class UpdateEntityParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    set: dict[str, Any] = Field(min_length=1, max_length=50)
    remove: list[str] = Field(default_factory=list, max_length=50)


def stage_update(
    params: UpdateEntityParams, ctx: ActionContext
) -> tuple[list[Any], dict[str, Any]]:
    """The ledger operations of this update against the entity as it is now, and the result."""
    entity = get_entity(ctx.entity_key)
    state, version = (dict(entity.state), entity.version) if entity else ({}, 0)
    if set(params.remove) & set(params.set):
        raise TerminalActionError("a field cannot be both set and removed")
    touched = [*params.set, *params.remove]
    previous = {name: state.get(name) for name in touched}
    state.update(params.set)
    for name in params.remove:
        state.pop(name, None)
    return _write(ctx, state, version, {"previous": previous})


def stage_undo(
    params: UpdateEntityParams, ctx: ActionContext, applied: dict[str, Any]
) -> tuple[list[Any], dict[str, Any]]:
    """Put back the fields this action changed, on top of whatever version the entity has now."""
    entity = get_entity(ctx.entity_key)
    if entity is None:
        raise TerminalActionError(f"entity {ctx.entity_key!r} is not in the ledger")
    state = dict(entity.state)
    for name, value in dict(applied.get("previous") or {}).items():
        if value is None:
            state.pop(name, None)
        else:
            state[name] = value
    return _write(ctx, state, entity.version, {"restored": applied.get("previous") or {}})


def _write(
    ctx: ActionContext, state: dict[str, Any], version: int, extra: dict[str, Any]
) -> tuple[list[Any], dict[str, Any]]:
    op = stage_entity_write(ctx.entity_key, state, version=version, action_id=ctx.action_id)
    return [op], {"entity_key": ctx.entity_key, "version": version + 1, "state": state, **extra}


def read_state(params: UpdateEntityParams, ctx: ActionContext) -> dict[str, Any]:
    """The entity as the ledger holds it now, and whether it still holds what this action wrote.

    `in_sync` is true when the action wrote the current version and the entity holds its
    fields, or when a later action of the kit wrote it since (the ledger records that change
    with its own audit event); false when the entity is gone or this action's version was
    changed without the kit.
    """
    entity = get_entity(ctx.entity_key)
    if entity is None:
        return {"in_sync": False, "reason": "the entity is gone"}
    observed: dict[str, Any] = {"state": entity.state, "version": entity.version}
    if entity.written_by != ctx.action_id:
        return {**observed, "in_sync": True, "reason": f"written since by {entity.written_by}"}
    differs = {
        name: entity.state.get(name)
        for name, value in params.set.items()
        if entity.state.get(name) != value
    }
    present = [name for name in params.remove if name in entity.state]
    if differs or present:
        return {**observed, "in_sync": False, "differs": differs, "not_removed": present}
    return {**observed, "in_sync": True}


def _not_direct(params: UpdateEntityParams, ctx: ActionContext) -> dict[str, Any]:
    raise TerminalActionError("ledger.update_entity is applied inside the ledger transaction")


CAPABILITY = Capability(
    name="ledger.update_entity",
    params_model=UpdateEntityParams,
    risk=Risk.LOW,
    execute=_not_direct,
    description="Update canonical entity state in the ledger, version-checked.",
    stage=stage_update,
    compensate_stage=stage_undo,
    read_state=read_state,
)
