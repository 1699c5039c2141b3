"""Plans and actions: what the model may say, and what the kit signs and runs.

`ModelPlan` is untrusted model output and forbids anything it does not name. `ActionSpec` is the
signed form of one action: its digest is what the plan envelope lists and what an approval is
bound to. `PlannedAction` adds what code decided (the gate) for the state machine.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, computed_field

from aios.attestations import SignedAttestation
from aios.errors import InvalidPlan
from aios.signing import SignedPlan, digest

Gate = Literal["auto", "approve", "deny"]
MAX_PLAN_ACTIONS = 20


class ModelAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    capability: str = Field(min_length=1, max_length=64)
    params: dict[str, Any]
    reason: str = Field(default="", max_length=1000)


class ModelPlan(BaseModel):
    """A plan as a model proposes it: parsed strictly, then validated against the process."""

    model_config = ConfigDict(extra="forbid")

    summary: str = Field(max_length=2000)
    actions: list[ModelAction] = Field(max_length=MAX_PLAN_ACTIONS)


class Classification(BaseModel):
    model_config = ConfigDict(extra="forbid")

    intent: str = Field(max_length=64)
    urgency: Literal["low", "normal", "high"]
    language: str = Field(max_length=16)
    risk: Literal["low", "medium", "high"]
    confidence: float = Field(ge=0, le=1)


class ActionSpec(BaseModel):
    """The signed description of one action.

    Its causal metadata is signed with it: the plan and step (`plan_id`, `index`), and the
    model id and prompt version whose answer proposed it (empty for an action no model
    proposed). The execution plane carries them into logs, outside request headers and events.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    action_id: str
    case_id: str
    plan_id: str
    index: int = Field(ge=0)
    capability: str
    params: dict[str, Any]
    entity_key: str
    risk: Literal["low", "medium", "high"]
    reason: str = ""
    model_id: str = Field(default="", max_length=200)
    prompt_version: str = Field(default="", max_length=200)

    def digest(self) -> str:
        """SHA-256 of the canonical action: the value a signature and an approval bind to."""
        return digest(self.model_dump(mode="json"))


class PlannedAction(ActionSpec):
    gate: Gate
    digest_hex: str = Field(alias="digest")

    def spec(self) -> ActionSpec:
        return ActionSpec.model_validate(self.model_dump(include=set(ActionSpec.model_fields)))

    def attributed(self, model_id: str, prompt_version: str) -> PlannedAction:
        """This action with the model and prompt version that proposed it, digest recomputed."""
        spec = self.spec().model_copy(
            update={"model_id": model_id, "prompt_version": prompt_version}
        )
        return PlannedAction(**spec.model_dump(), gate=self.gate, digest=spec.digest())


HandoffReason = Literal[
    "BUDGET_EXHAUSTED",
    "INVALID_MODEL_OUTPUT",
    "CONSTRAINT_VIOLATED",
    "CAPABILITY_REVOKED",
    "POLICY_DENIED",
    "LOW_CONFIDENCE",
    "INVALID_MANUAL_ACTIONS",
    "CHECK_FAILED",
]
"""Every way automation gives up on a case: the budget cannot pay for the next model call; the
model's answer stayed invalid after one repair; the plan still broke the process's constraints
after one repair; the tenant, the process or a capability the plan needs was revoked; the
policy denies an action and the process says "hand off instead of skip"; the classification's
confidence stayed below the process's threshold; an operator's hand-made actions no longer
validate when Decide signs them; a process pipeline's own check of the model's output (a
terminology glossary, say) still failed after its one repair."""


class Handoff(BaseModel):
    """Why the decision plane gave the case to a person instead of proposing a plan, and how
    long the case waits for one (the process's `policy.handoff`)."""

    model_config = ConfigDict(extra="forbid")

    reason: HandoffReason
    detail: str = Field(default="", max_length=2000)
    handoff_id: str = Field(default="", max_length=120)
    """The id of this handoff: the plan id its round would have had (`<case>.p<n>`)."""
    sla_seconds: int = Field(default=3600, ge=1)
    """When the handlers are reminded (the wait's heartbeat)."""
    timeout_seconds: int = Field(default=7 * 24 * 3600, ge=1)
    """When the wait ends without a person (the policy's `on_timeout`)."""


class Decision(BaseModel):
    """What Decide returns to the state machine: a signed plan, or a handoff and no actions."""

    model_config = ConfigDict(extra="forbid")

    plan: SignedPlan | None
    actions: list[PlannedAction]
    summary: str
    handoff: Handoff | None = None
    usage: dict[str, Any] | None = None
    attestation: SignedAttestation | None = None
    """The signed attestation of the plan's auto actions (the policy's, one for them all; an
    operator's for actions made by hand); the case machine carries it with each message."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def route(self) -> Literal["handoff", "auto", "gated"]:
        """Which way the state machine goes: to a person; straight to execution, every action
        in one message (`PlanActionsMessage`: all auto-approved, one entity, small enough); or
        through each action's gate, one message per action that passes it."""
        if self.handoff is not None:
            return "handoff"
        return "auto" if one_message(self.actions) else "gated"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def entity_key(self) -> str | None:
        """The one entity a plan's actions in one message touch: its queue message group (the
        state machine reads it here, not through an array index in a path)."""
        return self.actions[0].entity_key if self.route == "auto" else None


ONE_MESSAGE_ACTIONS_BYTES = 16 * 1024
"""The most a plan's actions may take to go in one message: a per-action message carries the
plan, the attestation and the case input too, and the queue's messages hold 64 KiB
(`aios.execution.MAX_MESSAGE_BYTES`); params above the body store's threshold are claim
checks already."""


def one_message(actions: list[PlannedAction]) -> bool:
    """Whether the plan's actions go to the action queue as one message: there is at least one,
    every one is auto-approved (no gate for a person to pass between them), they all touch one
    entity (the message group stays the entity key: the queue orders them with every other
    case's actions on that entity, as their own messages would be), and they fit."""
    if not 0 < len(actions) <= MAX_PLAN_ACTIONS or any(a.gate != "auto" for a in actions):
        return False
    if len({a.entity_key for a in actions}) != 1:
        return False
    encoded = sum(len(a.model_dump_json(by_alias=True)) for a in actions)
    return encoded <= ONE_MESSAGE_ACTIONS_BYTES


class ActionMessage(BaseModel):
    """The body the state machine puts on the action queue."""

    model_config = ConfigDict(extra="forbid")

    task_token: str = Field(min_length=1)
    plan: SignedPlan
    action: PlannedAction
    attestation: SignedAttestation | None = None
    """What allowed the action, signed with a key of its kind (`aios.attestations`)."""
    input: dict[str, Any] | None = None
    """The case input, checked against the plan's `input_digest` (no ledger read)."""


class PlanActionsMessage(BaseModel):
    """The body for a plan whose actions go in one message (`one_message`): every action, run
    in plan order as if each came in its own `ActionMessage` with this token, plan, attestation
    and input; the task is answered once, with every action's answer in order (what the
    per-action messages' answers would make of `$.results`), or with the first failure."""

    model_config = ConfigDict(extra="forbid")

    task_token: str = Field(min_length=1)
    plan: SignedPlan
    actions: list[PlannedAction] = Field(min_length=1, max_length=MAX_PLAN_ACTIONS)
    attestation: SignedAttestation | None = None
    input: dict[str, Any] | None = None

    def each(self) -> list[ActionMessage]:
        """One `ActionMessage` per action, in plan order."""
        return [
            ActionMessage(
                task_token=self.task_token,
                plan=self.plan,
                action=action,
                attestation=self.attestation,
                input=self.input,
            )
            for action in self.actions
        ]


def parse_model_json(text: str, model: type[ModelPlan] | type[Classification]) -> Any:
    """Parse model output into its pydantic model; InvalidPlan says what was wrong."""
    try:
        return model.model_validate(json.loads(text))
    except (ValueError, ValidationError) as exc:
        raise InvalidPlan(f"model output is not a valid {model.__name__}: {exc}") from exc


class CompensationTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_id: str = Field(min_length=1, max_length=80)
    key: str = Field(min_length=1, max_length=64, description="the one-time compensation key")


class CompensationMessage(BaseModel):
    """The body the state machine sends when a failing case must be rolled back."""

    model_config = ConfigDict(extra="forbid")

    task_token: str = Field(min_length=1)
    compensate: CompensationTarget
