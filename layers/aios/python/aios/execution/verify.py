"""Verification: every check the execution plane makes before anything is applied.

Complete mediation: nothing reaches an outside system unless the plan signature verifies with
a trusted key over a complete envelope, the action is the one the plan lists at its index,
the plan has not expired, the process exists and allows the capability, the params match
their model, the capability authorizes them, and the ledger holds the action with an
attestation bound to its digest; and then, against the policy in force now (the process spec
served at this moment, not the one the model saw): nothing of it is revoked, the case input
is the one the plan was signed for, the gate derived again from the spec is met by the
attestation (an automatic attestation never passes for an action the policy gates `approve`),
the params keep the spec's constraints, and a capability unique per entity is claimed in the
ledger for this action. A planner bug or a written ledger item therefore cannot make an
action run that the policy would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from aios.capabilities import Capability, get_capability
from aios.constraints import Facts, check_params
from aios.control import revocations
from aios.errors import (
    ActionNotRunnable,
    ApprovalRequired,
    AttestationMissing,
    ConstraintViolated,
    EnvelopeUnsupported,
    InputMismatch,
    NotInPlan,
    PlanExpired,
    PolicyDenied,
    ProcessNotFound,
    UnknownAction,
    UnknownProcess,
    WrongCase,
)
from aios.ledger import claim_unique, get_action, get_case, get_entity, now_iso
from aios.plans import ActionMessage, PlannedAction
from aios.policy import approval_rule, gate_for
from aios.settings import Settings
from aios.signing import PlanEnvelope, PublicKeyCache, digest, verify_plan
from aios.specs import ProcessSpec, get_spec
from aios.tenants import entity_tenant

UNKNOWN_CONFIDENCE = 0.0
"""A plan without a confidence is taken at the lowest: confidence rules then ask for people."""

RUNNABLE_OR_APPLIED = ("APPROVED", "APPLIED")


@dataclass(frozen=True)
class VerifiedAction:
    message: ActionMessage
    capability: Capability
    params: BaseModel
    applied: dict[str, Any] | None = None
    """The recorded result when the ledger already holds the action APPLIED."""
    unique: bool = False
    """Whether this action holds its capability's uniqueness claim on the entity."""


def verify_action(
    message: ActionMessage,
    *,
    keys: PublicKeyCache,
    trusted_key_ids: set[str],
    settings: Settings,
    now: datetime | None = None,
) -> VerifiedAction:
    """Every check before anything is applied; raises an ActionRejected subclass."""
    verify_plan(message.plan, keys, trusted_key_ids)
    envelope, action = message.plan.envelope, message.action
    if not envelope.complete:
        raise EnvelopeUnsupported(
            f"plan {envelope.plan_id}: envelope version {envelope.version} without the spec "
            "and input it was signed for"
        )
    if action.case_id != envelope.case_id or action.plan_id != envelope.plan_id:
        raise WrongCase(f"action {action.action_id} does not belong to case {envelope.case_id}")
    if entity_tenant(action.entity_key) != envelope.tenant:
        raise WrongCase(f"action {action.action_id} touches another tenant's entity")
    computed = action.spec().digest()
    listed = envelope.action_digests
    if (
        computed != action.digest_hex
        or action.index >= len(listed)
        or listed[action.index] != computed
    ):
        raise NotInPlan(f"action {action.action_id} is not the action the signed plan lists")
    if envelope.expired(now or datetime.now(UTC)):
        raise PlanExpired(f"plan {envelope.plan_id} expired at {envelope.expires_at}")
    try:
        spec = get_spec(envelope.process)
    except ProcessNotFound as exc:
        raise UnknownProcess(exc.message) from None
    capability = get_capability(action.capability, spec.allowed)
    params = capability.validate_params(action.params)
    if capability.authorize is not None:
        capability.authorize(params, settings)
    item = get_action(action.case_id, action.index)
    if item is None or (item.data or {}).get("action_id") != action.action_id:
        raise UnknownAction(f"the ledger holds no action {action.action_id}")
    attestation = dict((item.data or {}).get("attestation") or {})
    if attestation.get("digest") != computed:
        raise AttestationMissing(
            f"action {action.action_id} has no attestation bound to its digest"
        )
    if item.status not in RUNNABLE_OR_APPLIED:
        raise ActionNotRunnable(f"action {action.action_id} is {item.status}: it will not run")
    if item.status == "APPLIED":  # a redelivery: answered with what was recorded
        return VerifiedAction(message, capability, params, applied=dict(item.result or {}))
    revocations.check(
        tenant=envelope.tenant, process=envelope.process, capabilities=[action.capability]
    )
    case_input = _case_input(envelope)
    check_gate(spec, capability, action, attestation, envelope.confidence)
    unique = _check_constraints(spec, action, case_input)
    return VerifiedAction(message, capability, params, unique=unique)


def _case_input(envelope: PlanEnvelope) -> dict[str, Any]:
    """The case input the plan was signed for, from the ledger (its digest must match)."""
    case = get_case(envelope.case_id)
    if case.data.get("tenant") != envelope.tenant:
        raise WrongCase(f"case {envelope.case_id} belongs to another tenant")
    case_input = dict(case.data.get("input") or {})
    if digest(case_input) != envelope.input_digest:
        raise InputMismatch(f"case {envelope.case_id}: the input is not the one the plan signed")
    return case_input


def check_gate(
    spec: ProcessSpec,
    capability: Capability,
    action: PlannedAction,
    attestation: dict[str, Any],
    confidence: float | None,
) -> None:
    """The gate the policy in force asks for, met by the attestation; raises otherwise.

    `deny` refuses; `approve` needs a human attestation: an approval with at least the rule's
    quorum of approvers, or an operator's act-by-hand on a handed-off case; `auto` takes any
    attestation bound to the digest.
    """
    taken = UNKNOWN_CONFIDENCE if confidence is None else confidence
    gate = gate_for(capability, spec.policy, action.params, taken)
    if gate == "deny":
        raise PolicyDenied(f"the policy of {spec.name} denies {capability.name} now")
    if gate == "approve":
        rule = approval_rule(capability, spec.policy, action.params, taken)
        quorum = rule.quorum if rule is not None else 1
        approvers = attestation.get("approvers") or []
        by_hand = bool(attestation.get("operator"))
        if attestation.get("type") != "human" or (not by_hand and len(set(approvers)) < quorum):
            raise ApprovalRequired(
                f"the policy gates action {action.action_id} 'approve'"
                f"{f' (rule {rule.name}, quorum {quorum})' if rule else ''}; its attestation is "
                f"{attestation.get('type', 'none')!r} with {len(set(approvers))} approver(s)",
                gate=gate,
                attestation_type=attestation.get("type"),
            )


def _check_constraints(
    spec: ProcessSpec, action: PlannedAction, case_input: dict[str, Any]
) -> bool:
    """Raise ConstraintViolated unless the params keep the spec's rules; claims the entity's
    uniqueness for this action when the capability is unique per entity (True then)."""
    rules = spec.constraints.get(action.capability)
    if rules is None:
        return False
    entity = get_entity(action.entity_key) if rules.reads_entity else None
    facts = Facts(
        input=case_input, entity=entity.state if entity else None, action_id=action.action_id
    )
    check_params(action.capability, rules, action.params, facts)
    if rules.unique_per is None:
        return False
    claimed = claim_unique(
        action.entity_key,
        action.capability,
        action_id=action.action_id,
        case_id=action.case_id,
        at=now_iso(),
    )
    if not claimed:
        raise ConstraintViolated(
            f"{action.capability} is unique per entity and {action.entity_key} has one already",
            violations=["unique per entity"],
        )
    return True
