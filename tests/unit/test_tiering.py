"""The decision plane's model calls: tiers, escalation, fallback, repair, handoff and the cache."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aios import cases
from aios.errors import ModelThrottled, ModelTimeout, ModelUnavailable
from aios.planning import CaseInput, decide_case
from aios.pricing import ModelPrice
from aios.specs import get_spec
from aios.tiering import ModelConfig

from tests.model_fakes import CountingOffline, ScriptedProvider

SPEC = get_spec("ticket-triage")
TIERS = {"small": ("small-a",), "large": ("large-a", "large-b")}
PRICES = {
    m: ModelPrice(input_per_mtok=1.0, output_per_mtok=2.0)
    for m in ("small-a", "large-a", "large-b")
}
GOOD_CLASS = {
    "intent": "billing",
    "urgency": "high",
    "language": "en",
    "risk": "medium",
    "confidence": 0.95,
}
GOOD_PLAN = {
    "summary": "record the triage",
    "actions": [
        {
            "capability": "ledger.update_entity",
            "params": {"set": {"status": "triaged"}},
            "reason": "triage",
        }
    ],
}


def new_case(body: dict[str, Any] | None = None, tenant: str = "t1") -> CaseInput:
    started: list[dict[str, Any]] = []
    cases.submit_case(
        "ticket-triage",
        json.dumps(body or SPEC.example_input),
        tenant=tenant,
        idempotency_key=None,
        start_execution=lambda _cid, inp: started.append(inp),
    )
    return CaseInput(**started[0])


def config(provider: Any, **changes: Any) -> ModelConfig:
    values: dict[str, Any] = {
        "provider": provider,
        "provider_name": "test",
        "tiers": TIERS,
        "prices": PRICES,
        "sleep": lambda _s: None,
    }
    return ModelConfig(**{**values, **changes})


@pytest.fixture
def decide(ledger, kms, plan_key):
    def run(case: CaseInput, models: ModelConfig):
        return decide_case(case, models=models, kms=kms, key_id=plan_key, ttl_seconds=600)

    return run


def test_small_tier_classifies_and_large_tier_plans(decide) -> None:
    provider = ScriptedProvider(classify=[GOOD_CLASS], plan=[GOOD_PLAN])
    decision = decide(new_case(), config(provider))
    assert [(r.task, r.model_id) for r in provider.requests] == [
        ("classify", "small-a"),
        ("plan", "large-a"),
    ]
    assert decision.handoff is None and decision.plan is not None
    usage = decision.usage
    assert usage["by_tier"]["small"]["calls"] == 1 and usage["by_tier"]["large"]["calls"] == 1
    assert usage["cost_usd"] == pytest.approx(2 * (100 * 1.0 + 20 * 2.0) / 1e6)
    assert usage["prompts"]["plan"].startswith("ticket-triage.plan.v1@")
    # The classifier sees only the spec's classify_fields; the planner the whole input.
    assert set(provider.calls("classify")[0].input) == {"subject", "body", "priority"}
    assert "T-1001" in provider.calls("plan")[0].prompt


def test_low_confidence_escalates_classification_to_the_large_tier(decide) -> None:
    unsure = {**GOOD_CLASS, "confidence": 0.3}
    provider = ScriptedProvider(classify=[unsure, GOOD_CLASS], plan=[GOOD_PLAN])
    decision = decide(new_case(), config(provider))
    assert [r.model_id for r in provider.calls("classify")] == ["small-a", "large-a"]
    assert decision.usage["escalated"] is True and decision.usage["confidence"] == 0.95


def test_no_escalation_when_both_tiers_are_the_same_model(decide) -> None:
    unsure = {**GOOD_CLASS, "confidence": 0.3}
    provider = ScriptedProvider(classify=[unsure, GOOD_CLASS], plan=[GOOD_PLAN])
    one_model = {"small": ("large-a",), "large": ("large-a",)}
    decision = decide(new_case(), config(provider, tiers=one_model))
    assert len(provider.calls("classify")) == 1 and decision.usage["escalated"] is False


def test_throttled_model_falls_back_along_the_chain_with_backoff(decide) -> None:
    waits: list[float] = []
    provider = ScriptedProvider(
        classify=[GOOD_CLASS], plan=[ModelThrottled("slow down"), GOOD_PLAN]
    )
    decision = decide(new_case(), config(provider, sleep=waits.append, backoff_seconds=0.5))
    assert [r.model_id for r in provider.calls("plan")] == ["large-a", "large-b"]
    assert len(waits) == 1 and 0 <= waits[0] <= 0.5
    assert decision.usage["fallbacks"] == 1 and decision.usage["model_ids"] == [
        "large-b",
        "small-a",
    ]


def test_a_tier_whose_whole_chain_times_out_is_unavailable_and_nothing_is_recorded(decide) -> None:
    provider = ScriptedProvider(classify=[GOOD_CLASS], plan=[ModelTimeout("late")])
    case = new_case()
    with pytest.raises(ModelUnavailable):
        decide(case, config(provider))
    assert cases.case_view(case.case_id)["status"] == "RECEIVED"  # Step Functions retries Decide


def test_invalid_plan_gets_one_repair_that_carries_the_validation_error(decide) -> None:
    bad = {"summary": "x", "actions": [{"capability": "payments.refund", "params": {"all": True}}]}
    provider = ScriptedProvider(classify=[GOOD_CLASS], plan=[bad, GOOD_PLAN])
    decision = decide(new_case(), config(provider))
    repair = provider.calls("plan")[1]
    assert "payments.refund" in repair.prompt and "rejected" in repair.prompt
    assert decision.handoff is None and decision.usage["repairs"] == 1
    assert [a.capability for a in decision.actions] == ["ledger.update_entity"]


def test_output_still_invalid_after_the_repair_hands_the_case_to_a_person(decide) -> None:
    provider = ScriptedProvider(classify=[GOOD_CLASS], plan=["not json at all"])
    case = new_case()
    decision = decide(case, config(provider))
    assert len(provider.calls("plan")) == 2
    assert decision.plan is None and decision.actions == []
    assert decision.handoff.reason == "INVALID_MODEL_OUTPUT"
    view = cases.case_view(case.case_id)
    assert view["plan"] is None and view["actions"] == [] and view["usage"]["repairs"] == 1
    events = cases.audit_view(case.case_id)
    handed = [e for e in events["events"] if e["type"] == "decision.handed_off"]
    assert (
        handed
        and handed[0]["data"]["reason"] == "INVALID_MODEL_OUTPUT"
        and events["chain"]["valid"]
    )
    # A retried Decide returns the same handoff without calling the model again.
    again = decide(case, config(provider))
    assert again.handoff == decision.handoff and len(provider.requests) == 3


def test_handed_off_case_is_finalized_visibly_waiting_with_its_reason(decide) -> None:
    provider = ScriptedProvider(classify=["{}"], plan=[GOOD_PLAN])
    case = new_case()
    decision = decide(case, config(provider))
    assert decision.handoff.reason == "INVALID_MODEL_OUTPUT" and not provider.calls("plan")
    status = cases.finalize_case(case.case_id, "HANDED_OFF", handoff=decision.handoff.model_dump())
    view = cases.case_view(case.case_id)
    assert status == view["status"] == "HANDED_OFF"
    assert view["handoff"]["reason"] == "INVALID_MODEL_OUTPUT"
    assert cases.audit_view(case.case_id)["events"][-1]["type"] == "case.handed_off"


def test_same_input_twice_makes_one_model_call_per_task(decide, decision_table) -> None:
    provider = CountingOffline()
    models = config(provider, cache_ttl_seconds=3600)
    first = decide(new_case(), models)
    second = decide(new_case(), models)  # the same ticket submitted again: a new case
    assert len(provider.requests) == 2
    assert first.usage["cache"] == {"hits": 0, "misses": 2}
    assert second.usage["cache"] == {"hits": 2, "misses": 0} and second.usage["calls"] == 0
    assert [a.params for a in second.actions] == [a.params for a in first.actions]


def test_near_repeat_hits_the_classification_cache_but_not_the_plan(decide, decision_table) -> None:
    provider = CountingOffline()
    models = config(provider, cache_ttl_seconds=3600)
    decide(new_case(), models)
    other = {
        **SPEC.example_input,
        "ticket_id": "T-2002",
        "body": "  " + SPEC.example_input["body"].upper(),
    }
    decision = decide(new_case(other), models)
    assert decision.usage["cache"] == {"hits": 1, "misses": 1}
    assert [r.task for r in provider.requests] == ["classify", "plan", "plan"]


def test_the_planner_gets_the_process_rules_as_static_context(decide) -> None:
    provider = ScriptedProvider(classify=[GOOD_CLASS], plan=[GOOD_PLAN])
    decide(new_case(), config(provider))
    [classify], [plan] = provider.calls("classify"), provider.calls("plan")
    assert classify.process_context == ""
    # The process's constraints are what the plan must keep; none of the case is in there.
    assert "/tickets/T-[0-9]{1,12}/(triage|reply|notes)" in plan.process_context
    assert SPEC.description in plan.process_context
    assert SPEC.example_input["ticket_id"] in plan.process_context  # the example, not the case
    second = new_case({**SPEC.example_input, "ticket_id": "T-7777", "body": "Other text"})
    decide(second, config(provider))
    assert provider.calls("plan")[1].process_context == plan.process_context
    assert "T-7777" not in plan.process_context and "T-7777" in provider.calls("plan")[1].prompt


def test_reworded_ticket_hits_the_classification_cache_and_a_new_amount_does_not(
    decide, decision_table
) -> None:
    provider = CountingOffline()
    models = config(provider, cache_ttl_seconds=3600)
    body = {**SPEC.example_input, "body": "Invoice 1849 bills me 110 EUR twice. Please fix it."}
    decide(new_case(body), models)
    reworded = {
        **body,
        "ticket_id": "T-2002",
        "body": "invoice 5521 bills me 110 eur  twice!! please FIX it",
    }
    assert decide(new_case(reworded), models).usage["cache"] == {"hits": 1, "misses": 1}
    other_amount = {**body, "ticket_id": "T-2003", "body": "Invoice 1849 bills me 990 EUR twice."}
    assert decide(new_case(other_amount), models).usage["cache"] == {"hits": 0, "misses": 2}
    assert [r.task for r in provider.requests] == ["classify", "plan", "plan", "classify", "plan"]


def test_recalled_memories_are_part_of_the_cache_key(decide, decision_table) -> None:
    provider = CountingOffline()
    models = config(provider, cache_ttl_seconds=3600)
    decide(new_case(), models)
    remembered = new_case().model_copy(update={"memory": {"summary": "refunds need a receipt"}})
    decision = decide(remembered, models)
    assert decision.usage["cache"] == {"hits": 0, "misses": 2} and len(provider.requests) == 4


def test_cache_is_never_shared_across_tenants(decide, decision_table) -> None:
    provider = CountingOffline()
    models = config(provider, cache_ttl_seconds=3600)
    decide(new_case(tenant="acme"), models)
    decision = decide(new_case(tenant="globex"), models)
    assert decision.usage["cache"] == {"hits": 0, "misses": 2} and len(provider.requests) == 4


def test_cache_bypass_calls_the_model_every_time(decide, decision_table) -> None:
    provider = CountingOffline()
    models = config(provider, cache_ttl_seconds=0)
    decide(new_case(), models)
    decision = decide(new_case(), models)
    assert len(provider.requests) == 4 and decision.usage["cache"] == {"hits": 0, "misses": 0}


def test_invalid_answers_are_never_cached(decide, decision_table) -> None:
    provider = ScriptedProvider(classify=[GOOD_CLASS], plan=["nonsense"])
    models = config(provider, cache_ttl_seconds=3600)
    decide(new_case(), models)
    provider.scripts["plan"] = [GOOD_PLAN]
    decision = decide(new_case(), models)
    assert decision.handoff is None and decision.usage["cache"] == {"hits": 1, "misses": 1}
