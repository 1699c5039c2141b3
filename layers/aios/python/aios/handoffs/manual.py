"""Actions a person makes by hand, checked against the process as strictly as a model's.

An operator may pick only a capability the process allows and its policy does not deny, with
params valid for the capability's model. The check runs twice: when the operator submits (so
the console can name the bad field at once) and again in Decide, before the actions are signed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aios.capabilities import get_capability
from aios.errors import CapabilityNotAllowed, InvalidInput, InvalidParams
from aios.specs import ProcessSpec

MAX_MANUAL_ACTIONS = 20


class ManualAction(BaseModel):
    """One action an operator makes by hand: a capability and its params."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    capability: str = Field(min_length=1, max_length=64)
    params: dict[str, Any]
    reason: str = Field(default="", max_length=1000)


def allowed_capabilities(spec: ProcessSpec) -> list[str]:
    """What an operator may act with: the process's capabilities its policy does not deny."""
    return [name for name in spec.capabilities if name not in spec.policy.deny]


def _where(index: int, loc: Sequence[Any]) -> str:
    return ".".join([f"actions[{index}]", *(str(part) for part in loc)])


def _shape(index: int, raw: Any) -> ManualAction:
    try:
        return ManualAction.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = _where(index, first["loc"])
        raise InvalidInput(f"{field}: {first['msg']}", field=field) from exc


def _params(spec: ProcessSpec, index: int, action: ManualAction) -> ManualAction:
    field = _where(index, ["capability"])
    if action.capability not in allowed_capabilities(spec):
        raise CapabilityNotAllowed(
            f"{field}: {action.capability!r} is not a capability {spec.name} may use",
            field=field,
        )
    capability = get_capability(action.capability, spec.allowed)
    try:
        params = capability.validate_params(action.params)
    except InvalidParams as exc:
        cause = exc.__cause__
        errors = cause.errors() if isinstance(cause, ValidationError) else []
        fields = [_where(index, ["params", *e["loc"]]) for e in errors] or [
            f"actions[{index}].params"
        ]
        problems = "; ".join(
            f"{where}: {e['msg']}" for where, e in zip(fields, errors, strict=False)
        )
        raise InvalidParams(
            f"invalid params for {capability.name}: {problems or exc.message}",
            field=fields[0],
            fields=fields,
        ) from exc
    return action.model_copy(update={"params": params.model_dump(mode="json")})


def check_manual_actions(spec: ProcessSpec, actions: Any) -> list[ManualAction]:
    """The actions, params as the capability's model reads them, or the first problem:
    InvalidInput (not a list of `{capability, params, reason?}`), CapabilityNotAllowed (not
    a capability of the process, or one its policy denies) or InvalidParams, each naming the
    field (`actions[0].params.body`)."""
    if not isinstance(actions, Sequence) or isinstance(actions, str | bytes) or not actions:
        raise InvalidInput("actions: at least one action is required", field="actions")
    if len(actions) > MAX_MANUAL_ACTIONS:
        raise InvalidInput(f"actions: at most {MAX_MANUAL_ACTIONS} actions", field="actions")
    return [_params(spec, i, _shape(i, raw)) for i, raw in enumerate(actions)]


def capability_forms(spec: ProcessSpec) -> list[dict[str, Any]]:
    """What a form for acting by hand needs, per capability an operator may use: its name,
    description, risk and the JSON schema of its params model."""
    forms: list[dict[str, Any]] = []
    for name in allowed_capabilities(spec):
        capability = get_capability(name, spec.allowed)
        forms.append(
            {
                "capability": capability.name,
                "description": capability.description,
                "risk": capability.risk.label,
                "params_schema": capability.params_model.model_json_schema(),
            }
        )
    return forms


def as_dicts(actions: Sequence[ManualAction]) -> list[dict[str, Any]]:
    return [a.model_dump(mode="json") for a in actions]


def from_dicts(actions: Sequence[Mapping[str, Any]]) -> list[ManualAction]:
    return [ManualAction.model_validate(a) for a in actions]
