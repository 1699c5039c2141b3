"""Process specs: a process is data, validated when it is loaded.

A spec names its input schema (JSON Schema), an example input, the capabilities it may use, the
template of the entity key its actions touch, and its policy. Specs are the user's: each
process is a folder `processes/<name>/` of the workspace (`aios.workspace`) holding
`process.json` or `process.yaml`, its versioned prompts under `prompts/` and its labelled
examples under `examples/`. Adding a process needs no infrastructure code and no change to the
kit. A bad spec is refused with every problem named by file and field (`SpecError`).
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Callable, Mapping
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from aios import workspace
from aios.capabilities import Risk, capability_names
from aios.constraints import SHORTHANDS, CapabilityConstraints
from aios.errors import InvalidInput, ProcessNotFound, SpecError
from aios.signing import SpecRef, digest

if TYPE_CHECKING:
    from aios.prompts import PromptTemplate

SPEC_FILES = ("process.json", "process.yaml", "process.yml")
PROMPTS_DIR = "prompts"


class Approver(BaseModel):
    """A person who may decide an approval: reached by email, Slack, or both."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    slack_user: str | None = Field(default=None, pattern=r"^[UW][A-Z0-9]{2,30}$")


class Threshold(BaseModel):
    """A parameter test, e.g. ``{"param": "body.amount", "op": ">", "value": 50}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    param: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
    op: Literal[">", ">=", "<", "<=", "==", "!="]
    value: float | int | str | bool


class EscalationLevel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    approvers: list[str] = Field(min_length=1)
    timeout_seconds: int = Field(ge=1, le=365 * 24 * 3600)


class ApprovalRule(BaseModel):
    """When an action needs people, which people, how many of them, and for how long.

    A rule matches when every condition it names holds: the capability, the risk at least
    `min_risk`, every parameter threshold, and the model's confidence below
    `confidence_below`. The first matching rule of the policy applies.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,62}$")
    capabilities: list[str] = Field(default_factory=list)
    min_risk: str | None = Field(default=None, pattern="^(low|medium|high)$")
    params: list[Threshold] = Field(default_factory=list)
    confidence_below: float | None = Field(default=None, ge=0, le=1)
    approvers: list[str] = Field(min_length=1)
    quorum: int = Field(default=1, ge=1)
    timeout_seconds: int = Field(default=86400, ge=1, le=365 * 24 * 3600)
    escalation: list[EscalationLevel] = Field(default_factory=list)
    on_final_timeout: Literal["reject", "fail"] = "reject"
    on_reject: Literal["continue", "fail"] = "continue"
    max_change_rounds: int = Field(default=2, ge=0, le=10)

    @model_validator(mode="after")
    def _quorum_reachable(self) -> ApprovalRule:
        if len(set(self.approvers)) != len(self.approvers):
            raise ValueError(f"rule {self.name}: approvers must be distinct")
        if self.quorum > len(self.approvers):
            raise ValueError(
                f"rule {self.name}: quorum {self.quorum} > {len(self.approvers)} approvers"
            )
        return self


class ApprovalPolicy(BaseModel):
    """The people of a process and its approval rules (see `aios.approvals`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    approvers: dict[str, Approver] = Field(default_factory=dict)
    slack_channel: str | None = Field(default=None, pattern=r"^[CG][A-Z0-9]{2,30}$")
    rules: list[ApprovalRule] = Field(default_factory=list)
    default_rule: str | None = None
    """The rule for an action that needs approval by risk alone; without one it is denied."""
    remind_after: float = Field(default=0.5, gt=0, lt=1)
    """Share of a level's timeout after which the reminders function nudges the approvers."""
    sla_minutes: int | None = Field(default=None, ge=1, le=365 * 24 * 60)
    """How long an approval may wait before the reconciler reports it past its SLA; unset:
    until its current level's deadline (when the case machine should have escalated)."""

    @model_validator(mode="after")
    def _known_people(self) -> ApprovalPolicy:
        for rule in self.rules:
            named = [*rule.approvers, *(a for level in rule.escalation for a in level.approvers)]
            unknown = sorted(set(named) - set(self.approvers))
            if unknown:
                raise ValueError(f"rule {rule.name} names unknown approvers: {', '.join(unknown)}")
        if self.default_rule and self.default_rule not in {r.name for r in self.rules}:
            raise ValueError(f"default_rule {self.default_rule!r} is not a rule")
        return self


class HandoffPolicy(BaseModel):
    """Who takes over a case automation gives up on, how soon, and what happens if nobody does.

    `handlers` are notified (email and/or Slack) when a case is handed off; after
    `sla_minutes` they are reminded once; after `timeout_minutes` the case ends as
    `on_timeout` says: `fail` (FAILED, with compensation) or `resolve` (RESOLVED, no action).
    Without handlers, the approval policy's approvers are notified.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    handlers: dict[str, Approver] = Field(default_factory=dict)
    slack_channel: str | None = Field(default=None, pattern=r"^[CG][A-Z0-9]{2,30}$")
    sla_minutes: float = Field(default=60, gt=0, le=30 * 24 * 60)
    timeout_minutes: float = Field(default=7 * 24 * 60, gt=0, le=365 * 24 * 60)
    on_timeout: Literal["fail", "resolve"] = "fail"

    @model_validator(mode="after")
    def _sla_before_timeout(self) -> HandoffPolicy:
        if self.sla_seconds >= self.timeout_seconds:
            raise ValueError("handoff sla_minutes must be shorter than timeout_minutes")
        return self

    @property
    def sla_seconds(self) -> int:
        """When the handlers are reminded: a whole number of seconds, at least 1."""
        return max(1, round(self.sla_minutes * 60))

    @property
    def timeout_seconds(self) -> int:
        return max(1, round(self.timeout_minutes * 60))


class Policy(BaseModel):
    """Which actions run on their own: code decides this, never the model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    auto_max_risk: str = Field(default="low", pattern="^(low|medium|high)$")
    deny: list[str] = Field(default_factory=list)
    deny_action: Literal["skip", "handoff"] = "skip"
    """What a plan with a denied action does: skip that action, or hand the case to a person."""
    approval: ApprovalPolicy = Field(default_factory=ApprovalPolicy)
    handoff: HandoffPolicy = Field(default_factory=HandoffPolicy)

    @property
    def auto_max(self) -> Risk:
        return Risk.parse(self.auto_max_risk)

    @property
    def handlers(self) -> dict[str, Approver]:
        """The people told of a handoff: the handoff policy's, else the approvers."""
        return dict(self.handoff.handlers or self.approval.approvers)


class Budget(BaseModel):
    """Daily model spend allowed per tenant for the process; enforced before each call."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    daily_usd: float = Field(default=5.0, gt=0, le=1_000_000)
    daily_tokens: int = Field(default=2_000_000, ge=1)


class DecisionSpec(BaseModel):
    """How the decision plane decides the process: tiers, escalation, prompts and budget.

    Tiers are names ("small", "large"); deploy-time config maps each to its model ids (the
    first is the primary, the rest the fallback chain). `classify_fields` are the input fields
    the classifier sees (None: all), so identifiers that do not change the class (ticket id,
    email) do not defeat the output cache.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    classify_tier: str = Field(default="small", pattern=r"^[a-z][a-z0-9-]{0,31}$")
    plan_tier: str = Field(default="large", pattern=r"^[a-z][a-z0-9-]{0,31}$")
    escalate_below: float = Field(default=0.7, ge=0, le=1)
    classify_fields: list[str] | None = None
    prompts: dict[str, str] = Field(
        default_factory=lambda: {"classify": "default.classify.v1", "plan": "default.plan.v1"}
    )
    max_output_tokens: dict[str, int] = Field(
        default_factory=lambda: {"classify": 300, "plan": 1500}
    )
    budget: Budget = Field(default_factory=Budget)
    handoff_below_confidence: float | None = Field(default=None, ge=0, le=1)
    """Hand the case to a person when the classification's confidence stays below this."""

    @field_validator("prompts")
    @classmethod
    def _prompts_exist(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        from aios.prompts import load_prompt, parse_prompt

        if set(value) != {"classify", "plan"}:
            raise ValueError("prompts must name exactly a 'classify' and a 'plan' template")
        folder = (info.context or {}).get("prompts_dir")
        texts = (info.context or {}).get("prompt_texts") or {}
        for task, name in value.items():
            if f".{task}." not in name:
                raise ValueError(f"prompt {name!r} is not a {task} template")
            try:
                if name in texts:
                    parse_prompt(name, texts[name].encode("utf-8"))
                else:
                    load_prompt(name, folder)
            except SpecError as exc:
                raise ValueError(exc.message) from exc
        return value

    @field_validator("max_output_tokens")
    @classmethod
    def _output_limits(cls, value: dict[str, int]) -> dict[str, int]:
        if set(value) != {"classify", "plan"} or not all(1 <= v <= 32_000 for v in value.values()):
            raise ValueError("max_output_tokens needs 'classify' and 'plan', each 1-32000")
        return value


LIFECYCLE_TERMINAL = ["case.succeeded", "case.failed", "case.handed_off"]


class Webhook(BaseModel):
    """Where the process's case events go: a path on an `http_targets` target (deploy-time
    allow-list; the target's key in the connector secret signs each body)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    path: str = Field(min_length=1, max_length=512, pattern=r"^/[A-Za-z0-9._~!\$&'()*+,;=:@%/-]*$")
    events: list[str] = Field(
        default_factory=lambda: list(LIFECYCLE_TERMINAL),
        min_length=1,
        description="the event types sent; by default the case's end (or handoff)",
    )

    @field_validator("path")
    @classmethod
    def _no_dot_segments(cls, value: str) -> str:
        if value.startswith("//") or ".." in value.split("/"):
            raise ValueError("must be an absolute path without '..' segments")
        return value

    @field_validator("events")
    @classmethod
    def _event_types(cls, value: list[str]) -> list[str]:
        for name in value:
            if not re.match(r"^[a-z][a-z_]*\.[a-z][a-z_]*$", name):
                raise ValueError(f"{name!r} is not an event type (like case.succeeded)")
        return value


class ProcessSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{1,62}$")
    version: str
    description: str
    input_schema: dict[str, Any]
    example_input: dict[str, Any]
    capabilities: list[str] = Field(min_length=1)
    constraints: dict[str, CapabilityConstraints] = Field(default_factory=dict)
    """Rules per allowed capability that its params must keep (`aios.constraints`)."""
    entity_key: str
    policy: Policy = Field(default_factory=Policy)
    decision: DecisionSpec = Field(default_factory=DecisionSpec)
    webhook: Webhook | None = None
    """Optional: signed webhook deliveries of the process's case events."""
    _folder: Path | None = PrivateAttr(default=None)
    _prompt_texts: dict[str, str] = PrivateAttr(default_factory=dict)
    """Prompt templates that came with the spec (a deployed runtime configuration), by name."""

    @property
    def folder(self) -> Path | None:
        """The process's folder in the workspace (None for a spec built in code)."""
        return self._folder

    @property
    def prompts_dir(self) -> Path | None:
        return self._folder / PROMPTS_DIR if self._folder is not None else None

    def prompt(self, task: str) -> PromptTemplate:
        """The template the spec names for `task`: deployed with the spec, in the process's
        prompts folder, or one of the kit's defaults."""

        return self.template(self.decision.prompts[task])

    def template(self, name: str) -> PromptTemplate:
        """The template `name`: deployed with the spec, in the process's prompts folder, or
        one of the kit's defaults (a pipeline's own tasks name theirs directly)."""
        from aios.prompts import load_prompt, parse_prompt

        if name in self._prompt_texts:
            return parse_prompt(name, self._prompt_texts[name].encode("utf-8"))
        return load_prompt(name, self.prompts_dir)

    @field_validator("capabilities")
    @classmethod
    def _known_capabilities(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - capability_names())
        if unknown:
            raise ValueError(f"unknown capabilities: {', '.join(unknown)}")
        return value

    @model_validator(mode="after")
    def _constraints_fit(self) -> ProcessSpec:
        for name, rules in self.constraints.items():
            if name not in self.capabilities:
                raise ValueError(f"constraints.{name}: not one of the process's capabilities")
            for field in rules.shorthands():
                if SHORTHANDS[field] != name:
                    raise ValueError(
                        f"constraints.{name}.{field}: applies to {SHORTHANDS[field]} only"
                    )
        return self

    @model_validator(mode="after")
    def _example_is_valid(self) -> ProcessSpec:
        fields = {f for _, f, _, _ in string.Formatter().parse(self.entity_key) if f}
        required = set(self.input_schema.get("required", []))
        if not fields <= required:
            raise ValueError(f"entity_key uses fields that are not required: {fields - required}")
        known = set(self.input_schema.get("properties", {}))
        unknown_fields = set(self.decision.classify_fields or ()) - known
        if unknown_fields:
            raise ValueError(f"decision.classify_fields not in input_schema: {unknown_fields}")
        try:
            self.validate_input(self.example_input)
        except InvalidInput as exc:
            raise ValueError(f"example_input does not match input_schema: {exc.message}") from exc
        return self

    @cached_property
    def _validator(self) -> Callable[[Any], Any]:
        import fastjsonschema

        return fastjsonschema.compile(self.input_schema)

    @property
    def allowed(self) -> frozenset[str]:
        return frozenset(self.capabilities)

    @cached_property
    def ref(self) -> SpecRef:
        """Name, version and the SHA-256 of the canonical spec: which policy allowed an action."""
        content = self.model_dump(mode="json", by_alias=True)
        return SpecRef(name=self.name, version=self.version, sha256=digest(content))

    def validate_input(self, data: Any) -> dict[str, Any]:
        """The input if it matches the schema; InvalidInput naming the field otherwise."""
        import fastjsonschema

        try:
            self._validator(data)
        except fastjsonschema.JsonSchemaValueException as exc:
            field = exc.path[1:] if exc.path and exc.path[0] == "data" else exc.path
            where = ".".join(str(p) for p in field) or "<body>"
            message = exc.message.replace("data.", "", 1).replace("data ", "body ", 1)
            if exc.rule == "required" and isinstance(data, dict):
                missing = [name for name in exc.rule_definition if name not in data]
                if missing:
                    where = ".".join([*map(str, field), missing[0]])
                    message = "is required"
            raise InvalidInput(f"{where}: {message}", field=where) from exc
        if not isinstance(data, dict):
            raise InvalidInput("body: must be a JSON object", field="<body>")
        return data

    def entity_key_for(self, data: dict[str, Any]) -> str:
        return self.entity_key.format(**data)

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "input_schema": self.input_schema,
            "example_input": self.example_input,
            "capabilities": self.capabilities,
        }


def describe_errors(exc: ValidationError) -> list[tuple[str, str]]:
    """(field, message) per problem: the field as a dotted pydantic location."""
    return [(".".join(str(p) for p in err["loc"]) or "<root>", err["msg"]) for err in exc.errors()]


def spec_file(folder: Path) -> Path:
    """The one spec file of a process folder; SpecError naming the folder otherwise."""
    found = [folder / name for name in SPEC_FILES if (folder / name).is_file()]
    if len(found) != 1:
        what = "no spec file" if not found else "more than one spec file"
        raise SpecError(
            f"{workspace.display(folder)}: {what}; expected one of {', '.join(SPEC_FILES)}",
            file=workspace.display(folder),
            field="<file>",
        )
    return found[0]


def read_data_file(path: Path) -> Any:
    """The JSON or YAML document in `path`; SpecError naming the file when it does not parse."""
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            return yaml.safe_load(text)
        return json.loads(text)
    except ImportError as exc:
        raise SpecError(f"{workspace.display(path)}: YAML needs PyYAML; use JSON") from exc
    except ValueError as exc:  # json.JSONDecodeError and yaml.YAMLError's subclasses
        raise SpecError(
            f"{workspace.display(path)}: not valid {path.suffix[1:].upper()}: {exc}",
            file=workspace.display(path),
            field="<file>",
        ) from exc


def parse_spec(
    data: Any,
    *,
    source: Path,
    folder: Path | None,
    prompt_texts: Mapping[str, str] | None = None,
) -> ProcessSpec:
    """Validate one spec document; SpecError naming `source` and every bad field.

    `prompt_texts` are templates that travel with the spec (a deployed runtime configuration):
    they win over files of the same name.
    """
    prompts = folder / PROMPTS_DIR if folder is not None else None
    context = {"prompts_dir": prompts, "prompt_texts": dict(prompt_texts or {})}
    try:
        spec = ProcessSpec.model_validate(data, context=context)
    except ValidationError as exc:
        problems = describe_errors(exc)
        lines = "; ".join(f"{field}: {msg}" for field, msg in problems)
        raise SpecError(
            f"{workspace.display(source)}: {lines}",
            file=workspace.display(source),
            field=problems[0][0],
        ) from exc
    spec._folder = folder
    spec._prompt_texts = dict(prompt_texts or {})
    return spec


def load_process(folder: Path) -> ProcessSpec:
    """The validated spec of the process folder `folder`, whose name must be the spec's."""
    source = spec_file(folder)
    spec = parse_spec(read_data_file(source), source=source, folder=folder)
    if spec.name != folder.name:
        raise SpecError(
            f"{workspace.display(source)}: name: {spec.name!r} differs from its folder "
            f"{folder.name!r}",
            file=workspace.display(source),
            field="name",
        )
    return spec


def process_folders(root: Path | None = None) -> list[Path]:
    """The process folders of the workspace, in name order (hidden and `_` folders skipped)."""
    base = root if root is not None else workspace.processes_dir()
    if base is None:
        return []
    return sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


@lru_cache(maxsize=1)
def load_specs() -> dict[str, ProcessSpec]:
    """Every process of the workspace, validated; a bad spec fails the cold start."""
    return {spec.name: spec for spec in map(load_process, process_folders())}


SpecSource = Callable[[], Mapping[str, ProcessSpec]]
_source: SpecSource | None = None


def use_spec_source(source: SpecSource | None) -> None:
    """Serve the specs in force from `source`; None goes back to the default (the deployed
    runtime configuration when the function reads one, else the bundled specs)."""
    global _source
    _source = source


def current_specs() -> Mapping[str, ProcessSpec]:
    """The specs in force now: what the runtime configuration serves (AWS AppConfig, read
    with a short cache), or the bundled specs when no configuration is deployed for this
    function. Every plane reads its spec here, so a deployed change needs no code deploy."""
    if _source is not None:
        return _source()
    from aios.control.config import deployed_specs

    deployed = deployed_specs()
    return deployed if deployed is not None else load_specs()


def get_spec(name: str) -> ProcessSpec:
    try:
        return current_specs()[name]
    except KeyError:
        raise ProcessNotFound(f"unknown process {name!r}") from None
