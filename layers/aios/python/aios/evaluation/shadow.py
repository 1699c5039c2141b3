"""Shadow decisions: a case through the decision plane with nothing signed, queued or applied.

`shadow_decide` runs the code the decide function runs (`aios.planning.propose`: prompts, model
tiers and their fallback chains, strict parsing, one repair, capability and params validation,
the policy gate, the process's constraints) and stops before the signature: no KMS call, no
ledger read or write (constraints on entity state see no entity), no
model-output cache and no budget reservation, so replaying a case changes nothing anywhere.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from aios.errors import InvalidInput
from aios.planning import CaseInput, no_entities, propose
from aios.specs import ProcessSpec
from aios.tiering import ModelConfig


@dataclass(frozen=True)
class ShadowDecision:
    """What the candidate decided for one input, with what it cost."""

    classification: dict[str, Any] | None
    actions: list[dict[str, Any]]
    """capability, params and gate of each proposed action, in order."""
    handoff: str | None
    usage: dict[str, Any]
    latency_ms: float
    violations: list[str] = field(default_factory=list)


def shadow_decide(
    models: ModelConfig, spec: ProcessSpec, data: dict[str, Any], *, case_id: str
) -> ShadowDecision:
    """The decision for `data`, computed in shadow (see the module docstring).

    Constraint violations are what validation refused on the way: the repaired answers (a
    disallowed capability or invalid params, say), an answer still invalid after its repair,
    and the actions the policy denies. An input the process refuses is one violation and no
    decision.
    """
    try:
        spec.validate_input(data)
    except InvalidInput as exc:
        return ShadowDecision(None, [], None, {}, 0.0, [f"input refused: {exc.message}"])
    case = CaseInput(case_id=case_id, tenant="eval", process=spec.name, input=data)
    started = time.perf_counter()
    proposal = propose(models, case, spec, plan_id=f"{case_id}.p1", entities=no_entities)
    latency_ms = (time.perf_counter() - started) * 1000
    usage = proposal.usage.to_dict()
    violations = ["an answer was refused by validation and repaired"] * proposal.usage.repairs
    if proposal.handoff is not None and proposal.handoff.reason in (
        "INVALID_MODEL_OUTPUT",
        "CONSTRAINT_VIOLATED",
    ):
        violations.append(proposal.handoff.detail[:300])
    actions = [
        {"capability": a.capability, "params": a.params, "gate": a.gate} for a in proposal.actions
    ]
    violations += [
        f"action {i} ({a['capability']}) denied by policy"
        for i, a in enumerate(actions)
        if a["gate"] == "deny"
    ]
    return ShadowDecision(
        classification=proposal.classification.model_dump() if proposal.classification else None,
        actions=actions,
        handoff=proposal.handoff.reason if proposal.handoff else None,
        usage=usage,
        latency_ms=latency_ms,
        violations=violations,
    )
