"""The capability registry: the only way anything changes outside the ledger.

A capability is a small, documented interface (`Capability`): a pydantic params model, a risk
level, an executor, and optionally a compensation, a state reader (`read_state`, what the
action touches as the outside system holds it now, for reconciliation), the AWS permissions it
needs (`iam`), the keys of its own secret (`secrets`) and a model of its deploy-time options
(`config_model`, from the `capability_config` context option). Executors classify their own
failures by raising RetryableActionError (back to the queue with backoff) or
TerminalActionError (the case is told at once).

The kit's built-ins register here; the user's own capabilities are modules of the workspace's
`capabilities/` package (`aios.workspace`) that define `CAPABILITY = Capability(...)` (or a
list `CAPABILITIES`) or call `register(...)`, discovered on first use
(`aios.capabilities.discovery`). For every capability that declares `iam` or `secrets`, the
stack creates its own role, which only the execute role may assume, once per action, with a
session policy (`ActionContext.aws_session`). Model output can only ever name a registered
capability, and a process may use only the capabilities its spec allows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from aios.errors import CapabilityDefinitionError, CapabilityNotAllowed, InvalidParams
from aios.settings import Settings

if TYPE_CHECKING:
    import boto3

M = TypeVar("M", bound=BaseModel)
PLACEHOLDERS = ("${AWS::Partition}", "${AWS::Region}", "${AWS::AccountId}")
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}")
_ACTION = re.compile(r"^[a-z0-9-]{2,32}:[A-Za-z0-9]{1,128}$")


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
    """What an executor knows about the action it applies, and its doors to the outside:
    the capability's options, its secret and its own AWS role. It carries the action's causal
    metadata too: the tenant and process, the plan and step, and the model and prompt version
    that proposed it (empty when unknown)."""

    case_id: str
    action_id: str
    entity_key: str
    settings: Settings
    capability: str = ""
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

    def config(self, model: type[M]) -> M:
        """The capability's deploy-time options (`capability_config`) parsed into `model`."""
        return model.model_validate(self.settings.capability_config.get(self.capability, {}))

    def secret(self, key: str) -> str:
        """The value under `key` of the capability's own secret, read through its role."""
        from aios.secrets import capability_secret

        return capability_secret(self.capability, self.settings, self.action_id, key)

    def aws_session(self, session_policy: dict[str, Any] | None = None) -> boto3.session.Session:
        """A session on the capability's role for this action (15 minutes), narrowed by
        `session_policy` or, by default, by the capability's declared `iam` statements."""
        from aios.credentials import capability_session

        return capability_session(
            get_capability(self.capability), self.settings, self.action_id, session_policy
        )


Executor = Callable[[Any, ActionContext], dict[str, Any]]
Authorizer = Callable[[Any, Settings], None]
Stager = Callable[[Any, ActionContext], tuple[list[Any], dict[str, Any]]]
Compensator = Callable[[Any, ActionContext, dict[str, Any]], dict[str, Any]]
UndoStager = Callable[[Any, ActionContext, dict[str, Any]], tuple[list[Any], dict[str, Any]]]
Previewer = Callable[[Any, str], list[dict[str, Any]]]
"""(params, tenant) -> tables `{"title", "columns": [...], "rows": [[...]]}` of plain text."""


StateReader = Callable[[Any, ActionContext], dict[str, Any]]


class IamStatement(BaseModel):
    """One AWS permission a capability needs; the stack puts it on the capability's own role.

    Actions are named one by one (no wildcards). Resources are ARNs whose `${AWS::Partition}`,
    `${AWS::Region}` and `${AWS::AccountId}` are resolved at synth; a resource with a `*` needs
    a `reason`, which the stack writes next to its cdk-nag acknowledgement.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    actions: tuple[str, ...] = Field(min_length=1, max_length=50)
    resources: tuple[str, ...] = Field(min_length=1, max_length=50)
    reason: str = Field(default="", max_length=300)

    @field_validator("actions")
    @classmethod
    def _named_actions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for action in value:
            if "*" in action or "?" in action:
                raise ValueError(f"{action!r}: wildcard actions are not allowed; name each action")
            if not _ACTION.match(action):
                raise ValueError(f"{action!r} is not an IAM action like 's3:GetObject'")
        return value

    @field_validator("resources")
    @classmethod
    def _arns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for resource in value:
            unknown = set(_PLACEHOLDER.findall(resource)) - set(PLACEHOLDERS)
            if unknown:
                raise ValueError(
                    f"{resource!r}: unknown placeholder {sorted(unknown)[0]}; "
                    f"use {', '.join(PLACEHOLDERS)}"
                )
            if resource != "*" and not resource.startswith("arn:"):
                raise ValueError(f"{resource!r} is not an ARN")
        return value

    @property
    def wildcard(self) -> bool:
        return any("*" in r for r in self.resources)

    @model_validator(mode="after")
    def _wildcard_reason(self) -> IamStatement:
        if self.wildcard and not self.reason.strip():
            raise ValueError("a resource with '*' needs a reason")
        return self

    def resolved(self, partition: str, region: str, account: str) -> dict[str, Any]:
        """The statement as a policy document holds it, placeholders filled in."""
        values = {
            "${AWS::Partition}": partition,
            "${AWS::Region}": region,
            "${AWS::AccountId}": account,
        }

        def fill(text: str) -> str:
            for key, value in values.items():
                text = text.replace(key, value)
            return text

        return {
            "Effect": "Allow",
            "Action": list(self.actions),
            "Resource": [fill(r) for r in self.resources],
        }


class Capability(BaseModel):
    """One kind of side effect, as the kit and the user define it (see the module docstring).

    Built with keywords; a missing or malformed field is a ValidationError naming it, which
    `aios validate` and `cdk synth` report with the file that defined the capability.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$", max_length=64)
    params_model: type[BaseModel]
    risk: Risk
    execute: Executor
    description: str = Field(min_length=1, max_length=500)
    compensate: Compensator | None = None
    """Undo an applied action in an outside system, given the params and the applied result."""
    compensate_stage: UndoStager | None = None
    authorize: Authorizer | None = None
    stage: Stager | None = None
    """Capabilities that change only the ledger stage their writes into the apply transaction."""
    read_state: StateReader | None = None
    """What the action touches, as the outside system holds it now (reconciliation)."""
    iam: tuple[IamStatement, ...] = ()
    secrets: tuple[str, ...] = ()
    """Keys of the capability's own secret, which the stack creates and only its role reads."""
    config_model: type[BaseModel] | None = None
    """Deploy-time options (`capability_config` context option), validated at synth."""
    preview: Previewer | None = None
    """What the approval page shows a reviewer beside the params: tables of plain text (the
    page escapes every cell), read from the ledger, e.g. the content an action publishes."""

    @field_validator("risk", mode="before")
    @classmethod
    def _risk_by_name(cls, value: Any) -> Any:
        return (
            Risk.parse(value)
            if isinstance(value, str) and value.upper() in Risk.__members__
            else value
        )

    @field_validator("secrets")
    @classmethod
    def _secret_keys(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [k for k in value if not re.match(r"^[a-z][a-z0-9_]{0,63}$", k)]
        if bad or len(set(value)) != len(value):
            raise ValueError("secret keys must be distinct lowercase names like 'api_key'")
        return value

    @property
    def compensable(self) -> bool:
        return self.compensate is not None or self.compensate_stage is not None

    @property
    def needs_role(self) -> bool:
        """True when the stack gives it a role of its own (AWS permissions or a secret)."""
        return bool(self.iam or self.secrets)

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


BUILTIN = "aios"
_REGISTRY: dict[str, Capability] = {}
_SOURCES: dict[str, str] = {}
_state: dict[str, Any] = {"user_loaded": False, "pending": None}


def register(capability: Capability, source: str | None = None) -> Capability:
    """Add a capability to the registry; a second one with the same name is refused.

    Called while the user's package is being discovered, it is recorded with that discovery
    and registered only when every module loaded.
    """
    pending: list[Capability] | None = _state["pending"]
    if pending is not None and source is None:
        pending.append(capability)
        return capability
    existing = _REGISTRY.get(capability.name)
    if existing is capability:
        return capability
    where = source or BUILTIN
    if existing is not None:
        raise CapabilityDefinitionError(
            f"{where}: name: capability {capability.name!r} is already defined in "
            f"{_SOURCES[capability.name]}",
            file=where,
            field="name",
        )
    _REGISTRY[capability.name] = capability
    _SOURCES[capability.name] = where
    return capability


def _ensure_user_capabilities() -> None:
    if _state["user_loaded"]:
        return
    from aios.capabilities.discovery import discover

    _state["user_loaded"] = True
    try:
        for source, capability in discover(_state):
            register(capability, source)
    except BaseException:
        reset_user_capabilities()
        raise


def reset_user_capabilities(*, discover: bool = True) -> None:
    """Forget the user's capabilities, so the next lookup discovers them again (tests, tools);
    with `discover=False` the next lookups see the built-ins only (a check that goes on after
    the user's package failed to load)."""
    for name in [n for n, where in _SOURCES.items() if where != BUILTIN]:
        del _REGISTRY[name]
        del _SOURCES[name]
    _state["user_loaded"] = not discover
    _state["pending"] = None


def get_capability(name: str, allowed: frozenset[str] | set[str] | None = None) -> Capability:
    """The registered capability, if it exists and (when given) is in the allowed set."""
    if allowed is not None and name not in allowed:
        raise CapabilityNotAllowed(f"capability {name!r} is not allowed for this process")
    _ensure_user_capabilities()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise CapabilityNotAllowed(f"unknown capability {name!r}") from None


def capability_names() -> frozenset[str]:
    _ensure_user_capabilities()
    return frozenset(_REGISTRY)


def all_capabilities() -> dict[str, tuple[Capability, str]]:
    """Name -> (capability, the file that defines it, or "aios" for a built-in)."""
    _ensure_user_capabilities()
    return {name: (cap, _SOURCES[name]) for name, cap in sorted(_REGISTRY.items())}


def _load_builtins() -> None:
    from aios.capabilities import email_send, http_post, ledger_update_entity

    register(email_send.CAPABILITY)
    register(http_post.CAPABILITY)
    register(ledger_update_entity.CAPABILITY)


_load_builtins()
