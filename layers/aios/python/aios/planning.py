"""The decision plane: classify, plan, validate, gate, sign, and record the proposal.

Classification runs on the process's small tier and escalates to the large tier when its
confidence is low; planning runs on the large tier. Model calls go through `aios.tiering`
(cache, budget, fallback chain). The prompt versions used are recorded with the plan.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import ModuleType
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aios import aws, bodies
from aios.attestations import AttestationClaim, SignedAttestation, issued_now, sign_attestation
from aios.capabilities import get_capability
from aios.constraints import Facts, check_params
from aios.control import revocations
from aios.errors import AiosError, BudgetExhausted, CapabilityRevoked, InvalidPlan
from aios.handoffs.manual import check_manual_actions
from aios.ledger import (
    LedgerItem,
    Put,
    Update,
    cap_total,
    get_entity,
    load_case_items,
    now_iso,
    stage_action,
    stage_handoff,
    stage_plan,
    stage_status,
    transition_case,
    unique_holder,
)
from aios.model_cache import normalize, reworded
from aios.pipelines import NeedsPerson, Steps, pipeline_for, pipeline_version
from aios.plans import (
    ActionSpec,
    Classification,
    Decision,
    Handoff,
    ModelAction,
    ModelPlan,
    PlannedAction,
    parse_model_json,
)
from aios.policy import gate_for
from aios.providers import ModelProvider, ModelRequest, Task
from aios.signing import KmsClient, SignedPlan, digest, new_envelope, sign_plan
from aios.specs import ProcessSpec, get_spec
from aios.tenants import scoped_entity_key
from aios.tiering import Answer, ModelConfig, Usage, call_model, offline_config, remember

STATUS_FOR_GATE = {"auto": "APPROVED", "approve": "PROPOSED", "deny": "SKIPPED"}


class Revision(BaseModel):
    """Plan again: a reviewer's "request changes" (with their comment), or an operator's move
    on a handed-off case: "return to automation" (with a note) or "act by hand"."""

    model_config = ConfigDict(extra="ignore")

    round: int = Field(ge=1)
    comment: str = Field(default="", max_length=2000)
    approval_id: str = ""
    handoff_id: str = ""
    """Set by an operator's move: the handoff it answers."""
    operator: str = ""
    manual: bool = False
    """The operator acted by hand: sign their actions (read from the handoff), ask no model."""

    @property
    def key(self) -> str:
        """What makes a round: one decision per request for changes and per operator move."""
        return self.handoff_id or self.approval_id or f"round-{self.round}"


class CaseInput(BaseModel):
    """The execution input the api function starts the state machine with."""

    model_config = ConfigDict(extra="ignore")

    case_id: str
    tenant: str
    process: str
    input: dict[str, Any]
    revision: Revision | None = None
    """Set by the state machine when a reviewer requested changes (round 1, 2, ...)."""
    memory: dict[str, Any] | None = None
    """What Recall put under `$.memory` (summary, memories): lessons for the decision context."""


def plan_id_for(case_id: str, round: int = 0) -> str:
    """`<case>.p1` for the first plan, `<case>.p2` after the first request for changes, ..."""
    return f"{case_id}.p{round + 1}"


def propose_actions(
    spec: ProcessSpec,
    case: CaseInput,
    plan_id: str,
    plan: ModelPlan,
    confidence: float | None = None,
    first_index: int = 0,
    entities: EntityLookup | None = None,
) -> list[PlannedAction]:
    """Turn untrusted model actions into validated, gated actions, or raise InvalidPlan.

    A re-plan numbers its actions after the case's earlier ones (`first_index`), so the
    superseded actions keep their ledger records. Params must keep the spec's constraints on
    their capability (checked against the case input and the entity's canonical state).
    """
    entity_key = scoped_entity_key(case.tenant, spec.entity_key_for(case.input))
    planned: list[PlannedAction] = []
    unique: set[str] = set()
    for index, proposal in enumerate(plan.actions, start=first_index):
        try:
            capability = get_capability(proposal.capability, spec.allowed)
            params = capability.validate_params(proposal.params).model_dump(mode="json")
            _check_constraints(
                spec, case, capability.name, params, entity_key, unique, entities or ledger_entities
            )
        except AiosError as exc:
            where = index - first_index
            raise InvalidPlan(f"action {where}: {exc.message}", code_detail=exc.code) from exc
        action = ActionSpec(
            action_id=f"{plan_id}.a{index}",
            case_id=case.case_id,
            plan_id=plan_id,
            index=index,
            capability=capability.name,
            params=params,
            entity_key=entity_key,
            risk=capability.risk.label,
            reason=proposal.reason,
        )
        planned.append(
            PlannedAction(
                **action.model_dump(),
                gate=gate_for(capability, spec.policy, params, confidence),
                digest=action.digest(),
            )
        )
    return planned


@dataclass(frozen=True)
class EntityFacts:
    """What the ledger knows of an entity that a constraint may refer to."""

    state: dict[str, Any] | None = None
    unique_holder: str | None = None
    cap_totals: dict[str, float] = field(default_factory=dict)


EntityLookup = Callable[[str, str | None, Mapping[str, str]], EntityFacts]
"""(entity key, uniqueness claim key or None, cap label -> running-total key) -> the entity's
canonical state, the action holding the claim, and each cap's running total."""


def ledger_entities(
    entity_key: str, unique_key: str | None, caps: Mapping[str, str]
) -> EntityFacts:
    """The entity facts a constraint may refer to, read from the ledger."""
    entity = get_entity(entity_key)
    return EntityFacts(
        state=entity.state if entity else None,
        unique_holder=unique_holder(entity_key, unique_key) if unique_key else None,
        cap_totals={label: cap_total(entity_key, key) for label, key in caps.items()},
    )


def no_entities(entity_key: str, unique_key: str | None, caps: Mapping[str, str]) -> EntityFacts:
    """No entity facts (shadow mode reads no ledger): every entity as if never written."""
    return EntityFacts()


def _check_constraints(
    spec: ProcessSpec,
    case: CaseInput,
    capability: str,
    params: dict[str, Any],
    entity_key: str,
    unique: set[str],
    entities: EntityLookup,
) -> None:
    """ConstraintViolated unless the params keep the spec's rules for the capability; a
    capability unique per entity (or per param value) may appear once in a plan and never
    after an applied one; a capped param keeps its running total within the cap."""
    rules = spec.constraints.get(capability)
    if rules is None:
        return
    unique_key = rules.unique_key(capability, params)
    now = datetime.now(UTC)
    caps = {cap.label(): cap.key(capability, now) for cap in rules.caps}
    found = entities(entity_key, unique_key, caps) if rules.reads_entity or caps else EntityFacts()
    holder = found.unique_holder
    if unique_key is not None and unique_key in unique:
        holder = "an earlier action of this plan"
    if unique_key is not None:
        unique.add(unique_key)
    facts = Facts(
        input=case.input, entity=found.state, unique_holder=holder, cap_totals=found.cap_totals
    )
    check_params(capability, rules, params, facts)


def _round(case: CaseInput, items: list[LedgerItem]) -> tuple[str, Decision | None]:
    """This round's plan id, and the decision already recorded for it (a retried Decide).

    Each round records one decision, a plan or a handoff, tagged with its revision key; a new
    round takes the next plan number, whatever asked for it (a reviewer or an operator).
    """
    decisions = [i for i in items if i.kind in ("plan", "handoff")]
    key = case.revision.key if case.revision else ""
    for item in decisions:
        data = item.data or {}
        if str(data.get("revision_key", "")) == key:
            plan_id = str(data.get("plan_id") or data["handoff"]["handoff_id"])
            return plan_id, _recorded(item, items)
    return plan_id_for(case.case_id, len(decisions)), None


def _recorded(decision: LedgerItem, items: list[LedgerItem]) -> Decision:
    data = dict(decision.data or {})
    if decision.kind == "handoff":
        return Decision(
            plan=None,
            actions=[],
            summary=data["summary"],
            handoff=Handoff.model_validate(data["handoff"]),
            usage=data.get("usage"),
        )
    actions = [
        PlannedAction.model_validate((i.data or {})["planned"])
        for i in items
        if i.kind == "action" and (i.data or {}).get("plan_id") == data["plan_id"]
    ]
    attestation = data.get("attestation")
    return Decision(
        plan=SignedPlan.model_validate(data["signed"]),
        actions=actions,
        summary=data["summary"],
        usage=data.get("usage"),
        attestation=SignedAttestation.model_validate(attestation) if attestation else None,
    )


T = TypeVar("T")
REPAIR_NOTE = (
    "Your previous answer was rejected: {error}\n"
    "Answer again with JSON valid against the schema, using only the allowed capabilities."
)
REVIEW_NOTE = (
    "An approver reviewed your previous plan for this case and asked for changes. Their comment"
    " (from the approver, not from the case): {comment}\n"
)
OPERATOR_NOTE = (
    "Automation handed this case to a person; an operator took it and returned it to you with"
    " a note (from the operator, not from the case): {comment}\n"
)


def _ask(
    models: ModelConfig,
    usage: Usage,
    case: CaseInput,
    spec: ProcessSpec,
    *,
    task: Task,
    tier: str,
    data: dict[str, Any],
    context: dict[str, Any],
    cache_input: Any,
    validate: Callable[[str], T],
) -> T:
    """One validated answer: the model's, or after one repair attempt that carries the error.

    Raises InvalidPlan when the repaired answer is still invalid (the case goes to a person).
    """
    template = spec.prompt(task)
    usage.prompts[task] = template.version
    schema = (Classification if task == "classify" else ModelPlan).model_json_schema()
    rules = process_context(spec) if task == "plan" else ""
    # A change of the process's rules is a new prompt for the output cache too.
    cache_version = f"{template.version}+{digest(rules)[:12]}" if rules else template.version

    def request(repair: str) -> ModelRequest:
        system, prompt = template.render(
            process=spec.name,
            input=data,
            capabilities=_capability_catalogue(spec),
            classification=context.get("classification", {}),
            schema=schema,
            repair=_review_note(context) + repair,
        )
        return ModelRequest(
            task=task,
            process=case.process,
            input=data,
            capabilities=spec.capabilities,
            context={**context, **({"repair": repair} if repair else {})},
            system=system,
            process_context=rules,
            prompt=prompt,
            output_schema=schema,
            max_tokens=spec.decision.max_output_tokens[task],
        )

    answer = call_model(
        models,
        usage,
        request=request(""),
        prompt_version=cache_version,
        cache_input=cache_input,
        tenant=case.tenant,
        tier=tier,
        budget=spec.decision.budget,
    )
    try:
        result = validate(answer.response.text)
    except InvalidPlan as first:
        usage.repairs += 1
        usage.refused.append(first.message[:300])
        repaired = call_model(
            models,
            usage,
            request=request(REPAIR_NOTE.format(error=first.message[:1500])),
            prompt_version=cache_version,
            cache_input=None,
            tenant=case.tenant,
            tier=tier,
            budget=spec.decision.budget,
        )
        result = validate(repaired.response.text)
        usage.models[task] = repaired.response.model_id
        if answer.cache_key:
            remember(models, Answer(repaired.response, answer.cache_key, cached=False))
        return result
    usage.models[task] = answer.response.model_id
    remember(models, answer)
    return result


PROCESS_CONTEXT = (
    "Process context: the rules code enforces on every plan of this process (an action that"
    " breaks them is rejected; the policy decides which actions need a person), and an"
    " example of its input:\n{rules}"
)


def process_context(spec: ProcessSpec) -> str:
    """What the planner must respect, static for the process: its description, input schema,
    the constraints on its capabilities, the approval policy (without approvers' addresses)
    and its example input. Sent after the system prompt, before the case, so the provider's
    prompt cache serves it with the system prompt."""
    policy = spec.policy
    rules = {
        "process": spec.name,
        "description": spec.description,
        "input_schema": spec.input_schema,
        "constraints": {
            name: rule.model_dump(mode="json", exclude_defaults=True)
            for name, rule in sorted(spec.constraints.items())
        },
        "policy": {
            "auto_max_risk": policy.auto_max_risk,
            "deny": policy.deny,
            "approval_rules": [
                rule.model_dump(
                    mode="json",
                    include={"name", "capabilities", "min_risk", "params", "confidence_below"},
                    exclude_defaults=True,
                )
                for rule in policy.approval.rules
            ],
        },
        "example_input": spec.example_input,
    }
    return PROCESS_CONTEXT.format(rules=json.dumps(rules, sort_keys=True, ensure_ascii=False))


def _review_note(context: dict[str, Any]) -> str:
    comment = context.get("review_comment")
    if not comment:
        return ""
    note = OPERATOR_NOTE if context.get("reviewer") == "operator" else REVIEW_NOTE
    return note.format(comment=comment)


def _memory_context(case: CaseInput) -> dict[str, Any]:
    """The recalled lessons' summary for the model request, when Recall found any."""
    summary = (case.memory or {}).get("summary")
    return {"memory": summary} if summary else {}


def _memory_ids(case: CaseInput) -> list[str]:
    return [str(m.get("memory_id")) for m in (case.memory or {}).get("memories") or []]


def _capability_catalogue(spec: ProcessSpec) -> dict[str, Any]:
    """The allowed capabilities with their parameter schemas, as the planning prompt shows them."""
    return {
        name: get_capability(name, spec.allowed).params_model.model_json_schema()
        for name in spec.capabilities
    }


def _parse_classification(text: str) -> Classification:
    parsed: Classification = parse_model_json(text, Classification)
    return parsed


def _classify(
    models: ModelConfig, usage: Usage, case: CaseInput, spec: ProcessSpec
) -> Classification:
    """Classify on the small tier; escalate to the planning tier when confidence is low."""
    fields = spec.decision.classify_fields
    data = {k: v for k, v in case.input.items() if fields is None or k in fields}

    def ask(tier: str) -> Classification:
        return _ask(
            models,
            usage,
            case,
            spec,
            task="classify",
            tier=tier,
            data=data,
            context=_memory_context(case),
            # What the model sees is the key, less trivial rewording (case, spacing,
            # punctuation, ids): recalled memories change the answer too.
            cache_input={"input": reworded(data), **_memory_context(case)},
            validate=_parse_classification,
        )

    classification = ask(spec.decision.classify_tier)
    small, large = spec.decision.classify_tier, spec.decision.plan_tier
    # Escalating to the model that just answered would only pay for the same answer again.
    if classification.confidence < spec.decision.escalate_below and (
        models.chain(small)[0] != models.chain(large)[0]
    ):
        usage.escalated = True
        classification = ask(spec.decision.plan_tier)
    usage.confidence = classification.confidence
    return classification


def _plan(
    models: ModelConfig,
    usage: Usage,
    case: CaseInput,
    spec: ProcessSpec,
    classification: Classification,
    plan_id: str,
    first_index: int = 0,
    entities: EntityLookup | None = None,
) -> tuple[ModelPlan, list[PlannedAction]]:
    """Plan on the large tier (or with the process's pipeline); every action validated and
    gated by code."""
    pipeline = pipeline_for(spec)
    if pipeline is not None:
        return _run_pipeline(
            pipeline, models, usage, case, spec, classification, plan_id, first_index, entities
        )

    def validate(text: str) -> tuple[ModelPlan, list[PlannedAction]]:
        plan: ModelPlan = parse_model_json(text, ModelPlan)
        return plan, propose_actions(
            spec, case, plan_id, plan, classification.confidence, first_index, entities
        )

    # A reviewer's comment or an operator's note is context for the planner (and part of the
    # cache key).
    review: dict[str, Any] = {}
    if case.revision and case.revision.comment:
        review["review_comment"] = case.revision.comment
        if case.revision.handoff_id:
            review["reviewer"] = "operator"

    return _ask(
        models,
        usage,
        case,
        spec,
        task="plan",
        tier=spec.decision.plan_tier,
        data=case.input,
        context={"classification": classification.model_dump(), **review, **_memory_context(case)},
        cache_input={
            "input": normalize(case.input, fold=False),
            "classification": classification.model_dump(),
            **review,
            **_memory_context(case),
        },
        validate=validate,
    )


def _run_pipeline(
    pipeline: ModuleType,
    models: ModelConfig,
    usage: Usage,
    case: CaseInput,
    spec: ProcessSpec,
    classification: Classification,
    plan_id: str,
    first_index: int,
    entities: EntityLookup | None,
) -> tuple[ModelPlan, list[PlannedAction]]:
    """The process's own pipeline in place of the plan call (`aios.pipelines`); its answer is
    parsed and validated exactly as a model's."""

    def entity_state(key: str) -> dict[str, Any] | None:
        scoped = scoped_entity_key(case.tenant, key)
        if entities is not None:  # shadow mode: the caller's facts, never the ledger
            return entities(scoped, None, {}).state
        found = get_entity(scoped)
        return found.state if found else None

    steps = Steps(models, usage, spec, case.tenant, case.case_id, entity_state)
    view = {
        "case_id": case.case_id,
        "input": case.input,
        "classification": classification.model_dump(),
        "revision_comment": case.revision.comment if case.revision else "",
    }
    usage.prompts["plan"] = pipeline_version(pipeline)
    usage.models["plan"] = "pipeline"
    try:
        plan = ModelPlan.model_validate(pipeline.plan(view, steps))
    except ValidationError as exc:
        raise InvalidPlan(f"the pipeline's plan is not a valid ModelPlan: {exc}") from exc
    return plan, propose_actions(
        spec, case, plan_id, plan, classification.confidence, first_index, entities
    )


@dataclass
class Proposal:
    """What the decision plane proposes for a case before anything is signed or recorded:
    the validated, gated actions, or the reason the case goes to a person (with what the
    model proposed, when the policy denied part of it)."""

    classification: Classification | None
    plan: ModelPlan | None
    actions: list[PlannedAction]
    usage: Usage
    handoff: Handoff | None = None


def propose(
    models: ModelConfig,
    case: CaseInput,
    spec: ProcessSpec,
    plan_id: str,
    first_index: int = 0,
    entities: EntityLookup | None = None,
) -> Proposal:
    """Classify, plan, validate and gate: the decision up to the signature, with no ledger
    write and no KMS call (`aios eval` replays cases through it in shadow mode). The ledger is
    read only for the entity facts a constraint refers to, through `entities` (default: the
    ledger; shadow mode passes `no_entities`).

    An exhausted budget, an answer still invalid after one repair, a plan that still breaks
    the process's constraints after one repair, a confidence below the process's
    `handoff_below_confidence`, or an action the policy denies when its `deny_action` is
    `handoff` becomes a handoff.
    """
    usage = Usage()
    classification: Classification | None = None
    try:
        classification = _classify(models, usage, case, spec)
        unsure = _too_unsure(spec, case, classification)
        if unsure is not None:
            return Proposal(classification, None, [], usage, unsure)
        plan, actions = _plan(
            models, usage, case, spec, classification, plan_id, first_index, entities
        )
        # Causal metadata, signed with each action: the model and prompt that proposed it.
        actions = [
            a.attributed(usage.models.get("plan", ""), usage.prompts.get("plan", ""))
            for a in actions
        ]
    except BudgetExhausted as exc:
        handoff = Handoff(reason="BUDGET_EXHAUSTED", detail=exc.message)
        return Proposal(classification, None, [], usage, handoff)
    except InvalidPlan as exc:
        return Proposal(classification, None, [], usage, _invalid_plan_handoff(exc))
    except NeedsPerson as exc:
        handoff = Handoff(reason="CHECK_FAILED", detail=exc.message[:2000])
        return Proposal(classification, None, [], usage, handoff)
    denied = [a for a in actions if a.gate == "deny"]
    if denied and spec.policy.deny_action == "handoff":
        names = ", ".join(f"{a.action_id} ({a.capability})" for a in denied)
        handoff = Handoff(reason="POLICY_DENIED", detail=f"the policy denies {names}")
        return Proposal(classification, plan, actions, usage, handoff)
    return Proposal(classification, plan, actions, usage)


@dataclass(frozen=True)
class _Round:
    """One round of deciding a case: its plan id and what the ledger already holds."""

    case: CaseInput
    spec: ProcessSpec
    plan_id: str
    items: list[LedgerItem]

    @property
    def earlier_actions(self) -> list[LedgerItem]:
        """The case's actions of earlier rounds, by index (a new plan numbers after them)."""
        actions = (i for i in self.items if i.kind == "action")
        return sorted(actions, key=lambda i: int((i.data or {})["index"]))

    @property
    def earlier(self) -> list[LedgerItem]:
        return self.items if self.case.revision else []


def decide_case(
    case: CaseInput,
    *,
    kms: KmsClient,
    key_id: str,
    ttl_seconds: int,
    provider: ModelProvider | None = None,
    models: ModelConfig | None = None,
    policy_key_id: str | None = None,
) -> Decision:
    """Plan a case and record its signed proposal, or hand it to a person; once per case and
    round (`case.revision`: a reviewer asked for changes, or an operator returned the case
    with a note or acted by hand).

    A retry returns the decision already recorded. A re-plan `<case>.p<n>` supersedes the
    earlier plan: its unapplied actions become SUPERSEDED, everything stays on the ledger.
    Nothing the model says is trusted: its answers are parsed strictly, actions must name
    allowed capabilities with valid params, gates come from the spec's policy. The case is
    handed off with nothing signed when the budget is exhausted (no model call is made), an
    answer is still invalid after one repair, the classification's confidence stays below the
    process's `handoff_below_confidence`, or the policy denies an action and its `deny_action`
    is `handoff`. An operator's hand-made actions are checked again and signed with a human
    attestation naming them; no model is asked.

    The plan's auto actions get one policy attestation, signed with `policy_key_id` (default:
    `AIOS_POLICY_KEY_ID`; one KMS Sign for them all); without a policy key they get an
    unsigned record that the execution plane refuses.
    """
    items = load_case_items(case.case_id)
    plan_id, existing = _round(case, items)
    if existing is not None:
        return existing
    round_ = _Round(case, get_spec(case.process), plan_id, items)
    # The kill switch first: a revoked tenant or process costs no model call.
    try:
        revocations.check(tenant=case.tenant, process=case.process)
    except CapabilityRevoked as exc:
        handoff = Handoff(reason="CAPABILITY_REVOKED", detail=exc.message)
        return _hand_off(round_, handoff, Usage(), None)
    if case.revision and case.revision.manual:
        return _decide_by_hand(round_, kms=kms, key_id=key_id, ttl_seconds=ttl_seconds)
    if models is None:
        if provider is None:
            raise ValueError("decide_case needs a provider or a model config")
        models = offline_config(provider)
    first = len(round_.earlier_actions)
    proposal = propose(models, case, round_.spec, plan_id, first_index=first)
    usage, classification = proposal.usage, proposal.classification
    if proposal.handoff is None:
        try:
            capabilities = [a.capability for a in proposal.actions]
            revocations.check(tenant=case.tenant, process=case.process, capabilities=capabilities)
        except CapabilityRevoked as exc:
            proposal.handoff = Handoff(reason="CAPABILITY_REVOKED", detail=exc.message)
    if proposal.handoff is not None:
        shown = (proposal.plan, proposal.actions) if proposal.plan is not None else None
        return _hand_off(round_, proposal.handoff, usage, classification, shown)
    assert proposal.plan is not None and classification is not None
    plan, actions = proposal.plan, proposal.actions
    signed = _sign(
        round_,
        actions,
        kms=kms,
        key_id=key_id,
        ttl_seconds=ttl_seconds,
        confidence=classification.confidence,
    )
    recorded = usage.to_dict()
    policy_key = (
        os.environ.get("AIOS_POLICY_KEY_ID", "") if policy_key_id is None else policy_key_id
    )
    attestation = _sign_policy(round_, actions, kms=kms, key_id=policy_key)
    actions = _claim_bodies(actions)
    _record_decision(
        round_, signed, actions, plan.summary, classification, recorded, attestation=attestation
    )
    return Decision(
        plan=signed,
        actions=actions,
        summary=plan.summary,
        usage=recorded,
        attestation=attestation,
    )


def _sign_policy(
    round_: _Round, actions: list[PlannedAction], *, kms: KmsClient, key_id: str
) -> SignedAttestation | None:
    """One policy attestation over every auto action of the plan (None: no auto action, or
    no policy key configured)."""
    auto = [a.digest_hex for a in actions if a.gate == "auto"]
    if not auto or not key_id:
        return None
    claim = AttestationClaim(
        type="policy",
        case_id=round_.case.case_id,
        plan_id=round_.plan_id,
        action_digests=tuple(auto),
        spec=round_.spec.ref,
        rule=f"risk<={round_.spec.policy.auto_max_risk}",
        issued_at=issued_now(),
        key_id=key_id,
    )
    return sign_attestation(kms, claim)


def _claim_bodies(actions: list[PlannedAction]) -> list[PlannedAction]:
    """Large params leave Decide as claim checks (`aios.bodies`), stored before the plan is
    recorded or any message sent; the signed digests cover the real params."""
    bucket, inline_max = bodies.store_settings()
    if not bucket:
        return actions
    s3 = aws.client("s3")
    return [bodies.check_in(a, s3=s3, bucket=bucket, inline_max=inline_max) for a in actions]


def _too_unsure(
    spec: ProcessSpec, case: CaseInput, classification: Classification
) -> Handoff | None:
    """LOW_CONFIDENCE when the process hands unsure cases to people; a case an operator
    returned to automation is not handed back for it (the operator has looked at it)."""
    threshold = spec.decision.handoff_below_confidence
    revision = case.revision
    if threshold is None or classification.confidence >= threshold:
        return None
    if revision is not None and revision.handoff_id:
        return None
    return Handoff(
        reason="LOW_CONFIDENCE",
        detail=f"classification confidence {classification.confidence:.2f} < {threshold:.2f}",
    )


def _sign(
    round_: _Round,
    actions: list[PlannedAction],
    *,
    kms: KmsClient,
    key_id: str,
    ttl_seconds: int,
    confidence: float | None = None,
) -> SignedPlan:
    """One signature over the plan; the envelope names the spec it was made under, the digest
    of the case input and the classification's confidence (None for actions made by hand)."""
    case = round_.case
    return sign_plan(
        kms,
        new_envelope(
            case_id=case.case_id,
            plan_id=round_.plan_id,
            process=case.process,
            tenant=case.tenant,
            # An action's index is its position here; a re-plan's first ones are the
            # superseded actions (their digests name another plan id: they never verify).
            action_digests=[str((e.data or {})["digest"]) for e in round_.earlier_actions]
            + [a.digest_hex for a in actions],
            key_id=key_id,
            ttl_seconds=ttl_seconds,
            spec=round_.spec.ref,
            input_digest=digest(case.input),
            confidence=confidence,
        ),
    )


def _decide_by_hand(round_: _Round, *, kms: KmsClient, key_id: str, ttl_seconds: int) -> Decision:
    """Sign the actions an operator made by hand, each with a human attestation naming them.

    The actions are read from the handoff the operator answered (never from the state
    machine's input) and checked again against the process; if they no longer pass, the case
    goes back to a person (INVALID_MANUAL_ACTIONS).
    """
    revision = round_.case.revision
    assert revision is not None
    usage = Usage()
    move = _manual_move(round_.items, revision.handoff_id)
    operator = str(move["operator"])
    note = str(move.get("note") or "")
    summary = f"acted by hand by {operator}" + (f": {note}" if note else "")
    try:
        checked = check_manual_actions(round_.spec, move.get("actions") or [])
        model_plan = ModelPlan(
            summary=summary[:2000],
            actions=[
                ModelAction(capability=a.capability, params=a.params, reason=a.reason)
                for a in checked
            ],
        )
        first = len(round_.earlier_actions)
        # The process's constraints hold for a person's actions too.
        proposed = propose_actions(
            round_.spec, round_.case, round_.plan_id, model_plan, None, first
        )
    except AiosError as exc:
        handoff = Handoff(reason="INVALID_MANUAL_ACTIONS", detail=exc.message[:2000])
        return _hand_off(round_, handoff, usage, None)
    try:
        case = round_.case
        capabilities = [a.capability for a in proposed]
        revocations.check(tenant=case.tenant, process=case.process, capabilities=capabilities)
    except CapabilityRevoked as exc:
        handoff = Handoff(reason="CAPABILITY_REVOKED", detail=exc.message)
        return _hand_off(round_, handoff, usage, None)
    actions = [a.model_copy(update={"gate": "auto"}) for a in proposed]
    signed = _sign(round_, actions, kms=kms, key_id=key_id, ttl_seconds=ttl_seconds)
    # The operator's own signed attestation, made when the move was recorded (aios.operator).
    by_hand = move.get("attestation")
    attestation = SignedAttestation.model_validate(by_hand) if by_hand else None

    def attest(action: PlannedAction, at: str) -> dict[str, Any]:
        return {
            "type": "human",
            "operator": operator,
            "digest": action.digest_hex,
            "handoff_id": revision.handoff_id,
            "spec": round_.spec.ref.model_dump(),
            "at": at,
        }

    recorded = usage.to_dict()
    actions = _claim_bodies(actions)
    _record_decision(
        round_,
        signed,
        actions,
        model_plan.summary,
        None,
        recorded,
        attest,
        attestation=attestation,
    )
    return Decision(
        plan=signed,
        actions=actions,
        summary=model_plan.summary,
        usage=recorded,
        attestation=attestation,
    )


def _manual_move(items: list[LedgerItem], handoff_id: str) -> dict[str, Any]:
    """The operator's "act by hand" move recorded on the handoff, or an error: Decide is never
    asked to act by hand unless a person did."""
    for item in items:
        data = item.data or {}
        if item.kind == "handoff" and data.get("handoff", {}).get("handoff_id") == handoff_id:
            move = data.get("move") or {}
            if item.status == "ACTED" and move.get("move") == "manual":
                return dict(move)
    raise AiosError(f"handoff {handoff_id!r} holds no actions made by hand")


def _invalid_plan_handoff(exc: InvalidPlan) -> Handoff:
    """A plan still invalid after one repair: a broken constraint, or output that is no plan."""
    if exc.details.get("code_detail") == "CONSTRAINT_VIOLATED":
        detail = f"plan breaks the process's constraints after one repair: {exc.message}"
        return Handoff(reason="CONSTRAINT_VIOLATED", detail=detail[:2000])
    detail = f"model output invalid after one repair: {exc.message}"
    return Handoff(reason="INVALID_MODEL_OUTPUT", detail=detail[:2000])


def _hand_off(
    round_: _Round,
    handoff: Handoff,
    usage: Usage,
    classification: Classification | None,
    proposal: tuple[ModelPlan, list[PlannedAction]] | None = None,
) -> Decision:
    """Record that the case waits for a person (reason on the audit chain); no plan, no actions.

    The handoff carries its id (this round's plan id) and the process's wait: the reminder
    (SLA) and the final timeout. What the model proposed, if anything, is kept for the person.
    """
    case, handoff_policy = round_.case, round_.spec.policy.handoff
    handoff = handoff.model_copy(
        update={
            "handoff_id": round_.plan_id,
            "sla_seconds": handoff_policy.sla_seconds,
            "timeout_seconds": handoff_policy.timeout_seconds,
        }
    )
    at = now_iso()
    recorded = usage.to_dict()
    summary = f"handed to a person: {handoff.reason}"
    handoff_op = stage_handoff(
        case.case_id,
        round_.plan_id,
        {
            "summary": summary,
            "process": case.process,
            "handoff": handoff.model_dump(),
            "classification": classification.model_dump() if classification else None,
            "usage": recorded,
            "proposal": _proposal(proposal),
            "context_memories": _memory_ids(case),
            "memory_summary": (case.memory or {}).get("summary") or None,
            "revision_key": case.revision.key if case.revision else "",
            "revision": case.revision.model_dump() if case.revision else None,
            "handed_off_at": time.time(),
        },
        at,
    )
    transition_case(
        case.case_id,
        [
            *([] if case.revision else [("case.running", {})]),
            ("decision.handed_off", {**handoff.model_dump(), "usage": recorded}),
        ],
        to_status="RUNNING",
        from_statuses=[_planned_from(case)],
        ops=(handoff_op,),
    )
    return Decision(plan=None, actions=[], summary=summary, handoff=handoff, usage=recorded)


def _proposal(proposal: tuple[ModelPlan, list[PlannedAction]] | None) -> dict[str, Any] | None:
    """What the model proposed before the case was handed off (unsigned, never executable)."""
    if proposal is None:
        return None
    plan, actions = proposal
    return {
        "summary": plan.summary,
        "actions": [a.model_dump(mode="json", by_alias=True) for a in actions],
    }


Attest = Callable[[PlannedAction, str], dict[str, Any]]


def _policy_attestation(spec: ProcessSpec) -> Attest:
    """An automatic action's attestation: the policy rule that let it run on its own."""

    def attest(action: PlannedAction, at: str) -> dict[str, Any]:
        rule = f"risk<={spec.policy.auto_max_risk}"
        return {
            "type": "policy",
            "rule": rule,
            "digest": action.digest_hex,
            "spec": spec.ref.model_dump(),
            "at": at,
        }

    return attest


def _signed_record(attestation: SignedAttestation) -> Attest:
    """An auto action's ledger attestation: the signed claim's readable record for its digest,
    with the signed attestation itself."""

    def attest(action: PlannedAction, at: str) -> dict[str, Any]:
        signed = attestation.model_dump(mode="json")
        return {**attestation.claim.record(action.digest_hex), "signed": signed}

    return attest


def _record_decision(
    round_: _Round,
    signed: SignedPlan,
    actions: list[PlannedAction],
    summary: str,
    classification: Classification | None,
    usage: dict[str, Any],
    attest: Attest | None = None,
    *,
    attestation: SignedAttestation | None = None,
) -> None:
    """One transaction: the plan, its actions (auto ones with their attestation: the signed
    one's record with its signature, else `attest`, the policy's unsigned record by default),
    the earlier plan superseded, and the audit events."""
    case, spec = round_.case, round_.spec
    attest = _signed_record(attestation) if attestation else attest or _policy_attestation(spec)
    at = now_iso()
    plan_id = signed.envelope.plan_id
    ops: list[Put | Update] = [
        stage_plan(
            case.case_id,
            plan_id,
            "SIGNED",
            {
                "plan_id": plan_id,
                "summary": summary,
                "classification": classification.model_dump() if classification else None,
                "usage": usage,
                "context_memories": _memory_ids(case),
                "revision_key": case.revision.key if case.revision else "",
                "revision": case.revision.model_dump() if case.revision else None,
                "signed": signed.model_dump(mode="json"),
                "attestation": attestation.model_dump(mode="json") if attestation else None,
            },
            at,
        )
    ]
    superseded = _supersede(case, plan_id, round_.earlier, at)
    ops.extend(op for op, _ in superseded)
    events: list[tuple[str, dict[str, Any]]] = [
        *([] if case.revision else [("case.running", {})]),
        *(event for _, event in superseded),
        (
            "plan.signed",
            {
                "plan_id": plan_id,
                "action_digests": signed.envelope.action_digests,
                "key_id": signed.envelope.key_id,
                "expires_at": signed.envelope.expires_at,
                "spec": spec.ref.model_dump(),
            },
        ),
    ]
    for action in actions:
        status = STATUS_FOR_GATE[action.gate]
        attested = attest(action, at) if action.gate == "auto" else None
        ops.append(
            stage_action(
                case.case_id,
                action.index,
                status,
                {
                    **action.model_dump(mode="json", by_alias=True, exclude={"gate"}),
                    "gate": action.gate,
                    "attestation": attested,
                    "planned": action.model_dump(mode="json", by_alias=True),
                },
                at,
            )
        )
        events.append(
            (
                "action.proposed",
                {"action_id": action.action_id, "digest": action.digest_hex, "gate": action.gate},
            )
        )
        if attested:
            events.append(("action.attested", {"action_id": action.action_id, **attested}))
        elif action.gate == "deny":
            events.append(
                ("action.skipped", {"action_id": action.action_id, "reason": "denied by policy"})
            )
    transition_case(
        case.case_id,
        events,
        to_status="RUNNING",
        from_statuses=[_planned_from(case)],
        ops=tuple(ops),
    )


def _planned_from(case: CaseInput) -> str:
    """The status a case is planned from: RECEIVED first, RUNNING when re-planned."""
    return "RUNNING" if case.revision else "RECEIVED"


def _supersede(
    case: CaseInput, plan_id: str, earlier: list[LedgerItem], at: str
) -> list[tuple[Update, tuple[str, dict[str, Any]]]]:
    """Mark the earlier plans and their unapplied actions SUPERSEDED (each a compare-and-set,
    in the new plan's transaction). Applied, skipped or rejected actions keep their status."""
    revision = case.revision.model_dump(exclude_defaults=True) if case.revision else {}
    out: list[tuple[Update, tuple[str, dict[str, Any]]]] = []
    for item in earlier:
        data = item.data or {}
        if item.kind == "plan" and item.status == "SIGNED":
            event = ("plan.superseded", {"plan_id": data.get("plan_id"), "by": plan_id, **revision})
        elif item.kind == "action" and item.status in ("PROPOSED", "APPROVED"):
            event = ("action.superseded", {"action_id": data.get("action_id"), "by": plan_id})
        else:
            continue
        out.append((stage_status(item, "SUPERSEDED", at), event))
    return out
