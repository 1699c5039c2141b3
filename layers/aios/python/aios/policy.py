"""The policy gate: code, not the model, decides which actions need a person."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from aios.capabilities import Capability, Risk
from aios.plans import Gate
from aios.specs import ApprovalRule, Policy, Threshold

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
    "==": operator.eq, "!=": operator.ne,
}  # fmt: skip
_MISSING = object()


def _param(params: Mapping[str, Any], path: str) -> Any:
    value: Any = params
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _holds(threshold: Threshold, params: Mapping[str, Any]) -> bool:
    value = _param(params, threshold.param)
    if value is _MISSING:
        return False
    numeric = (int, float)
    if isinstance(threshold.value, bool) or isinstance(value, bool):
        if threshold.op not in ("==", "!="):
            return False
    elif isinstance(threshold.value, numeric) != isinstance(value, numeric):
        return False  # never compare a number with a string: such a test does not hold
    return _OPS[threshold.op](value, threshold.value)


def _matches(
    rule: ApprovalRule, capability: Capability, params: Mapping[str, Any], confidence: float | None
) -> bool:
    if rule.capabilities and capability.name not in rule.capabilities:
        return False
    if rule.min_risk is not None and capability.risk < Risk.parse(rule.min_risk):
        return False
    if rule.confidence_below is not None and (
        confidence is None or confidence >= rule.confidence_below
    ):
        return False
    return all(_holds(t, params) for t in rule.params)


def approval_rule(
    capability: Capability,
    policy: Policy,
    params: Mapping[str, Any] | None = None,
    confidence: float | None = None,
) -> ApprovalRule | None:
    """The rule that puts this action before people, or None when no rule asks for them.

    The first rule whose conditions all hold wins; an action whose risk alone exceeds
    `auto_max_risk` falls back to the policy's `default_rule`.
    """
    for rule in policy.approval.rules:
        if _matches(rule, capability, params or {}, confidence):
            return rule
    if capability.risk > policy.auto_max and policy.approval.default_rule:
        return next(r for r in policy.approval.rules if r.name == policy.approval.default_rule)
    return None


def gate_for(
    capability: Capability,
    policy: Policy,
    params: Mapping[str, Any] | None = None,
    confidence: float | None = None,
) -> Gate:
    """deny if the process denies the capability; approve when an approval rule matches; auto
    up to the policy's risk; beyond it deny, since no rule names anyone who could approve."""
    if capability.name in policy.deny:
        return "deny"
    if approval_rule(capability, policy, params, confidence) is not None:
        return "approve"
    if capability.risk <= policy.auto_max:
        return "auto"
    return "deny"
