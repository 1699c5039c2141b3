"""The decision plane: classify, plan, validate, gate, sign, and record the proposal."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from aios.capabilities import get_capability
from aios.errors import AiosError, InvalidPlan
from aios.ledger import LedgerItem, Put, action_sk, case_pk, commit, load_case_items
from aios.ledger.repository import now_iso
from aios.plans import (
    ActionSpec,
    Classification,
    Decision,
    ModelPlan,
    PlannedAction,
    parse_model_json,
)
from aios.policy import gate_for
from aios.providers import ModelProvider, ModelRequest
from aios.signing import KmsClient, SignedPlan, new_envelope, sign_plan
from aios.specs import ProcessSpec, get_spec

STATUS_FOR_GATE = {"auto": "APPROVED", "approve": "PROPOSED", "deny": "SKIPPED"}


class CaseInput(BaseModel):
    """The execution input the api function starts the state machine with."""

    model_config = ConfigDict(extra="ignore")

    case_id: str
    tenant: str
    process: str
    input: dict[str, Any]


def plan_id_for(case_id: str) -> str:
    return f"{case_id}.p1"


def propose_actions(
    spec: ProcessSpec, case: CaseInput, plan_id: str, plan: ModelPlan
) -> list[PlannedAction]:
    """Turn untrusted model actions into validated, gated actions, or raise InvalidPlan."""
    entity_key = spec.entity_key_for(case.input)
    planned: list[PlannedAction] = []
    for index, proposal in enumerate(plan.actions):
        try:
            capability = get_capability(proposal.capability, spec.allowed)
            params = capability.validate_params(proposal.params).model_dump(mode="json")
        except AiosError as exc:
            raise InvalidPlan(f"action {index}: {exc.message}", code_detail=exc.code) from exc
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
                **action.model_dump(), gate=gate_for(capability, spec.policy), digest=action.digest()
            )
        )
    return planned


def _existing_decision(case_id: str) -> Decision | None:
    plan: dict[str, Any] | None = None
    actions: list[PlannedAction] = []
    for item in load_case_items(case_id):
        if item.kind == "plan":
            plan = dict(item.data or {})
        elif item.kind == "action":
            data = item.data or {}
            actions.append(PlannedAction.model_validate(data["planned"]))
    if plan is None:
        return None
    return Decision(
        plan=SignedPlan.model_validate(plan["signed"]), actions=actions, summary=plan["summary"]
    )


def decide_case(
    case: CaseInput,
    *,
    provider: ModelProvider,
    kms: KmsClient,
    key_id: str,
    ttl_seconds: int,
) -> Decision:
    """Plan a case and record its signed proposal; a retry returns the plan already made."""
    existing = _existing_decision(case.case_id)
    if existing is not None:
        return existing
    spec = get_spec(case.process)
    request = {"process": case.process, "input": case.input, "capabilities": spec.capabilities}
    classified = provider.complete(ModelRequest(task="classify", **request))
    classification: Classification = parse_model_json(classified.text, Classification)
    planned_text = provider.complete(
        ModelRequest(task="plan", context={"classification": classification.model_dump()}, **request)
    )
    plan: ModelPlan = parse_model_json(planned_text.text, ModelPlan)
    plan_id = plan_id_for(case.case_id)
    actions = propose_actions(spec, case, plan_id, plan)
    signed = sign_plan(
        kms,
        new_envelope(
            case_id=case.case_id,
            plan_id=plan_id,
            process=case.process,
            tenant=case.tenant,
            action_digests=[a.digest_hex for a in actions],
            key_id=key_id,
            ttl_seconds=ttl_seconds,
        ),
    )
    usage = {
        "model_ids": sorted({classified.model_id, planned_text.model_id}),
        "input_tokens": classified.input_tokens + planned_text.input_tokens,
        "output_tokens": classified.output_tokens + planned_text.output_tokens,
    }
    _record_decision(case, spec, signed, actions, plan.summary, classification, usage)
    return Decision(plan=signed, actions=actions, summary=plan.summary)


def _record_decision(
    case: CaseInput,
    spec: ProcessSpec,
    signed: SignedPlan,
    actions: list[PlannedAction],
    summary: str,
    classification: Classification,
    usage: dict[str, Any],
) -> None:
    at = now_iso()
    plan_id = signed.envelope.plan_id
    pk = case_pk(case.case_id)
    ops: list[Put] = [
        Put(
            LedgerItem(
                pk,
                f"PLAN#{plan_id}",
                kind="plan",
                status="SIGNED",
                data={
                    "plan_id": plan_id,
                    "summary": summary,
                    "classification": classification.model_dump(),
                    "usage": usage,
                    "signed": signed.model_dump(mode="json"),
                },
                created_at=at,
                updated_at=at,
            )
        )
    ]
    events: list[tuple[str, dict[str, Any]]] = [
        ("case.running", {}),
        (
            "plan.signed",
            {
                "plan_id": plan_id,
                "action_digests": signed.envelope.action_digests,
                "key_id": signed.envelope.key_id,
                "expires_at": signed.envelope.expires_at,
            },
        ),
    ]
    for action in actions:
        status = STATUS_FOR_GATE[action.gate]
        attestation = (
            {"type": "policy", "rule": f"risk<={spec.policy.auto_max_risk}", "digest": action.digest_hex, "at": at}
            if action.gate == "auto"
            else None
        )
        ops.append(
            Put(
                LedgerItem(
                    pk,
                    action_sk(action.index),
                    kind="action",
                    status=status,
                    data={
                        **action.model_dump(mode="json", by_alias=True, exclude={"gate"}),
                        "gate": action.gate,
                        "attestation": attestation,
                        "planned": action.model_dump(mode="json", by_alias=True),
                    },
                    created_at=at,
                    updated_at=at,
                )
            )
        )
        events.append(
            ("action.proposed", {"action_id": action.action_id, "digest": action.digest_hex, "gate": action.gate})
        )
        if attestation:
            events.append(("action.attested", {"action_id": action.action_id, **attestation}))
        elif action.gate == "deny":
            events.append(("action.skipped", {"action_id": action.action_id, "reason": "denied by policy"}))
    commit(
        case.case_id,
        events,
        ops=tuple(ops),
        case_actions=[LedgerItem.status.set("RUNNING")],
        case_condition=LedgerItem.status == "RECEIVED",
    )
