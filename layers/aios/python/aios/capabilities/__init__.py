"""The capability registry: the only way anything changes outside the ledger.

Each capability names a pydantic params model, a risk level, an executor and optionally a
compensation and a state reader (`read_state`, used by the reconciler to report drift between
the ledger and the outside system; it never writes). Executors classify their own failures by
raising RetryableActionError (back to the queue with backoff) or TerminalActionError (the case
is told at once). Model output can
only ever name a capability from here, and a process may use only the capabilities its spec
allows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from pydantic import BaseModel, ValidationError

from aios.errors import CapabilityNotAllowed, InvalidParams
from aios.settings import Settings


class Risk(IntEnum):
    LOW = 1
    MEDIUM = 2
    HIGH = 3

    @classmethod
    def parse(cls, value: str) -> Risk:
        return cls[value.upper()]

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class ActionContext:
    """What an executor knows about the action it applies, with its causal metadata: the
    tenant and process, the plan and step, and the model and prompt version that proposed it
    (empty when unknown)."""

    case_id: str
    action_id: str
    entity_key: str
    settings: Settings
    plan_id: str = ""
    step: int | None = None
    tenant: str = ""
    process: str = ""
    model_id: str = ""
    prompt_version: str = ""

    def causal_ids(self) -> dict[str, str]:
        """The known causal ids, by name: what logs, request headers and events carry."""
        ids = {
            "tenant": self.tenant,
            "process": self.process,
            "case_id": self.case_id,
            "plan_id": self.plan_id,
            "action_id": self.action_id,
            "step": "" if self.step is None else str(self.step),
            "model_id": self.model_id,
            "prompt_version": self.prompt_version,
        }
        return {name: value for name, value in ids.items() if value}


Executor = Callable[[Any, ActionContext], dict[str, Any]]
Authorizer = Callable[[Any, Settings], None]
Stager = Callable[[Any, ActionContext], tuple[list[Any], dict[str, Any]]]
Compensator = Callable[[Any, ActionContext, dict[str, Any]], dict[str, Any]]
UndoStager = Callable[[Any, ActionContext, dict[str, Any]], tuple[list[Any], dict[str, Any]]]
StateReader = Callable[[Any, ActionContext, dict[str, Any]], dict[str, Any]]
"""(params, context, applied result) -> what the outside system holds now, with `in_sync`:
False when it no longer holds what the action applied (drift), plus any detail to report."""


@dataclass(frozen=True)
class Capability:
    name: str
    params_model: type[BaseModel]
    risk: Risk
    execute: Executor
    description: str
    compensate: Compensator | None = None
    """Undo an applied action in an outside system, given the params and the applied result."""
    compensate_stage: UndoStager | None = None
    authorize: Authorizer | None = None
    stage: Stager | None = None
    """Capabilities that change only the ledger stage their writes into the apply transaction."""
    read_state: StateReader | None = None
    """Read what the outside system holds for an applied action; never writes anything."""

    @property
    def compensable(self) -> bool:
        return self.compensate is not None or self.compensate_stage is not None

    def validate_params(self, params: Mapping[str, Any]) -> BaseModel:
        """Parse params into the capability's model; raises InvalidParams naming the fields."""
        try:
            return self.params_model.model_validate(params)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
                for err in exc.errors()
            )
            raise InvalidParams(f"invalid params for {self.name}: {problems}") from exc


_REGISTRY: dict[str, Capability] = {}


def register(capability: Capability) -> Capability:
    if capability.name in _REGISTRY:
        raise ValueError(f"capability {capability.name!r} registered twice")
    _REGISTRY[capability.name] = capability
    return capability


def get_capability(name: str, allowed: frozenset[str] | set[str] | None = None) -> Capability:
    """The registered capability, if it exists and (when given) is in the allowed set."""
    if allowed is not None and name not in allowed:
        raise CapabilityNotAllowed(f"capability {name!r} is not allowed for this process")
    try:
        return _REGISTRY[name]
    except KeyError:
        raise CapabilityNotAllowed(f"unknown capability {name!r}") from None


def capability_names() -> frozenset[str]:
    return frozenset(_REGISTRY)


def _load_builtins() -> None:
    from aios.capabilities import email_send, http_post, ledger_update_entity

    register(email_send.CAPABILITY)
    register(http_post.CAPABILITY)
    register(ledger_update_entity.CAPABILITY)


_load_builtins()
