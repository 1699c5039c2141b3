"""The policy gate: code, not the model, decides which actions need a person."""

from __future__ import annotations

from aios.capabilities import Capability
from aios.plans import Gate
from aios.specs import Policy


def gate_for(capability: Capability, policy: Policy) -> Gate:
    """deny if the process denies the capability, auto up to the policy's risk, else approve."""
    if capability.name in policy.deny:
        return "deny"
    if capability.risk <= policy.auto_max:
        return "auto"
    return "approve"
