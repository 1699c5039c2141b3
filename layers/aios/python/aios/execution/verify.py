"""Verification: every check the execution plane makes before anything is applied.

Complete mediation: nothing reaches an outside system unless the plan signature verifies with
a trusted key over a complete envelope, the action is the one the plan lists at its index,
the plan has not expired, the process exists and allows the capability, the params match
their model, the capability authorizes them, and the message carries an attestation signed by
a key pinned for its kind (policy or human, never the plan key) that binds the action's digest,
case, plan and spec (with the decision ledger at hand, one stack, the action item must also be
APPROVED there); and then, against the policy in force now (the process spec
served at this moment, not the one the model saw): nothing of it is revoked, the case input
is the one the plan was signed for, the gate derived again from the spec is met by the
attestation (an automatic attestation never passes for an action the policy gates `approve`),
the params keep the spec's constraints, and a capability unique per entity is claimed in the
state table for this action. A planner bug or a written ledger item therefore cannot make an
action run that the policy would refuse. No KMS call is made: public keys are pinned or loaded
once per key id (`aios.keyring`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from aios.attestations import content_digest, verify_attestation
from aios.capabilities import Capability, get_capability
from aios.constraints import CapabilityConstraints, Facts, cap_amount, check_params
from aios.control import revocations
from aios.errors import (
    ActionNotRunnable,
    ApprovalRequired,
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
from aios.keyring import Keyring
from aios.ledger import (
    claim_cap,
    claim_unique,
    get_action,
    get_applied,
    get_case,
    get_entity,
    now_iso,
    release_cap,
    release_unique,
)
from aios.memory.context import is_claim
from aios.plans import ActionMessage, PlannedAction
from aios.policy import approval_rule, gate_for
from aios.settings import Settings
from aios.signing import digest, verify_plan_signature
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
    unique_key: str | None = None
    """The uniqueness claim this action holds on its entity, if its capability has one."""
    cap_keys: tuple[str, ...] = ()
    """The running totals (caps) this action is counted in."""
    rules: tuple[str, ...] = ()
    """Every rule that allowed the action: the gate and the constraints it kept."""


def verify_action(
    message: ActionMessage,
    *,
    keyring: Keyring,
    settings: Settings,
    now: datetime | None = None,
) -> VerifiedAction:
    """Every check before anything is applied; raises an ActionRejected subclass.

    Everything it needs travels with the message (the signed plan, the signed attestation,
    the case input) and is checked with pinned keys; with the decision ledger at hand
    (`settings.decision_ledger`, one stack) the action item's status is checked as well."""
    moment = now or datetime.now(UTC)
    verify_plan_signature(message.plan, keyring, now=moment)
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
    if envelope.expired(moment):
        raise PlanExpired(f"plan {envelope.plan_id} expired at {envelope.expires_at}")
    try:
        spec = get_spec(envelope.process)
    except ProcessNotFound as exc:
        raise UnknownProcess(exc.message) from None
    capability = get_capability(action.capability, spec.allowed)
    params = capability.validate_params(action.params)
    if capability.authorize is not None:
        capability.authorize(params, settings)
    claim = verify_attestation(
        message.attestation,
        keyring,
        envelope=envelope,
        action_digest=computed,
        content=content_digest(action.capability, action.params),
        now=moment,
    )
    applied = _applied_before(action, computed, settings)
    if applied is not None:  # a redelivery: answered with what this plane recorded
        return VerifiedAction(message, capability, params, applied=applied)
    revocations.check(
        tenant=envelope.tenant, process=envelope.process, capabilities=[action.capability]
    )
    case_input = _case_input(message, settings)
    attestation = claim.model_dump(mode="json")
    gate_rule = check_gate(spec, capability, action, attestation, envelope.confidence)
    unique_key, cap_keys, held = _check_constraints(spec, action, case_input)
    return VerifiedAction(
        message,
        capability,
        params,
        unique_key=unique_key,
        cap_keys=cap_keys,
        rules=(gate_rule, *held),
    )


def _applied_before(
    action: PlannedAction, computed: str, settings: Settings
) -> dict[str, Any] | None:
    """The result this plane recorded if it applied the action already; None if it did not.

    With the decision ledger (one stack), the action item must exist and be runnable (APPROVED)
    or applied; on its own, the execution plane asks its applied records only."""
    if not settings.decision_ledger:
        applied = get_applied(action.action_id)
        if applied is not None and applied.digest != computed:
            raise ActionNotRunnable(f"action {action.action_id} was applied with another digest")
        return None if applied is None else applied.result
    item = get_action(action.case_id, action.index)
    if item is None or (item.data or {}).get("action_id") != action.action_id:
        raise UnknownAction(f"the ledger holds no action {action.action_id}")
    if item.status not in RUNNABLE_OR_APPLIED:
        raise ActionNotRunnable(f"action {action.action_id} is {item.status}: it will not run")
    if item.status != "APPLIED":
        return None
    record = get_applied(action.action_id)
    if record is None or record.digest != computed:
        raise ActionNotRunnable(
            f"action {action.action_id} is marked APPLIED but the execution plane holds "
            "no applied record of it"
        )
    return record.result


def _case_input(message: ActionMessage, settings: Settings) -> dict[str, Any]:
    """The case input the plan was signed for: the one the message carries, checked against
    the envelope's `input_digest`; from the ledger only when the message carries none (or a
    claim check) and the decision ledger is at hand."""
    envelope = message.plan.envelope
    carried = message.input
    if carried is None or is_claim(carried):
        if not settings.decision_ledger:
            raise InputMismatch(
                f"case {envelope.case_id}: the message carries no inline case input to check"
            )
        case = get_case(envelope.case_id)
        if case.data.get("tenant") != envelope.tenant:
            raise WrongCase(f"case {envelope.case_id} belongs to another tenant")
        carried = dict(case.data.get("input") or {})
    if digest(carried) != envelope.input_digest:
        raise InputMismatch(f"case {envelope.case_id}: the input is not the one the plan signed")
    return dict(carried)


def check_gate(
    spec: ProcessSpec,
    capability: Capability,
    action: PlannedAction,
    attestation: dict[str, Any],
    confidence: float | None,
) -> str:
    """The gate the policy in force asks for, met by the attestation; raises otherwise.
    Returns the rule that allowed it (`approval <rule> by <approvers>`, or `auto up to <risk>`).

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
                rules=[f"approval {rule.name}" if rule else "approval"],
            )
        who = attestation.get("operator") or ", ".join(sorted(set(approvers)))
        return f"approval {rule.name if rule else ''} by {who}".replace("  ", " ")
    return f"auto: risk {capability.risk.label} <= {spec.policy.auto_max_risk}"


def _check_constraints(
    spec: ProcessSpec, action: PlannedAction, case_input: dict[str, Any]
) -> tuple[str | None, tuple[str, ...], list[str]]:
    """Raise ConstraintViolated unless the params keep the spec's rules; claims the
    uniqueness (per entity or per param value) and counts the action in each cap's running
    total. Returns the claim's key, the caps' keys and the labels of the rules that held."""
    rules = spec.constraints.get(action.capability)
    if rules is None:
        return None, (), []
    entity = get_entity(action.entity_key) if rules.reads_entity else None
    facts = Facts(
        input=case_input, entity=entity.state if entity else None, action_id=action.action_id
    )
    check_params(action.capability, rules, action.params, facts)
    unique_key = rules.unique_key(action.capability, action.params)
    if unique_key is not None:
        claimed = claim_unique(
            action.entity_key,
            unique_key,
            action_id=action.action_id,
            case_id=action.case_id,
            at=now_iso(),
        )
        if not claimed:
            label = rules.unique_label()
            raise ConstraintViolated(
                f"{action.capability}: {label}: {action.entity_key} has one already ({unique_key})",
                violations=[f"{label}: held by another action"],
                rules=[label],
            )
    cap_keys = _claim_caps(rules, action, unique_key)
    return unique_key, cap_keys, rules.rules_held()


def _claim_caps(
    rules: CapabilityConstraints, action: PlannedAction, unique_key: str | None
) -> tuple[str, ...]:
    """Count the action in each cap's running total, all or none; raises when one is full."""
    now = datetime.now(UTC)
    claimed: list[str] = []
    for cap in rules.caps:
        key = cap.key(action.capability, now)
        amount = cap_amount(cap, action.params) or 0.0
        ok, others = claim_cap(
            action.entity_key,
            key,
            action_id=action.action_id,
            amount=amount,
            maximum=cap.max,
            at=now_iso(),
        )
        if not ok:
            for done in claimed:
                release_cap(action.entity_key, done, action_id=action.action_id, at=now_iso())
            if unique_key is not None:
                release_unique(
                    action.entity_key, unique_key, action_id=action.action_id, at=now_iso()
                )
            problem = f"{cap.label()}: {others:g} already this {cap.per} + {amount:g} > {cap.max:g}"
            raise ConstraintViolated(
                f"{action.capability} params break the process's constraints: {problem}",
                violations=[problem],
                rules=[cap.label()],
            )
        claimed.append(key)
    return tuple(claimed)
