"""Budgets: reserve before the call, settle after, fail closed, never overspend concurrently."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from aios import cases
from aios.budget import budget_spent, release_budget, reserve_budget, settle_budget
from aios.errors import BudgetExhausted
from aios.specs import Budget

from tests.model_fakes import CountingOffline
from tests.unit.test_tiering import config, new_case

DAY = date(2026, 1, 2)


def test_reservation_is_settled_with_the_actual_usage(decision_table) -> None:
    limits = Budget(daily_usd=1.0, daily_tokens=10_000)
    r = reserve_budget("t1", "p", limits, 0.25, 3000, day=DAY)
    assert budget_spent("t1", "p", DAY) == {"usd": 0.25, "tokens": 3000}
    settle_budget(r, 0.01, 400)
    assert budget_spent("t1", "p", DAY) == {"usd": 0.01, "tokens": 400}


def test_reservation_beyond_either_limit_is_refused_and_changes_nothing(decision_table) -> None:
    limits = Budget(daily_usd=1.0, daily_tokens=1000)
    reserve_budget("t1", "p", limits, 0.9, 100, day=DAY)
    with pytest.raises(BudgetExhausted):
        reserve_budget("t1", "p", limits, 0.2, 100, day=DAY)  # USD over
    reserve_budget("t1", "p", limits, 0.05, 800, day=DAY)
    with pytest.raises(BudgetExhausted):
        reserve_budget("t1", "p", limits, 0.01, 101, day=DAY)  # tokens over
    assert budget_spent("t1", "p", DAY) == {"usd": 0.95, "tokens": 900}


def test_budgets_are_per_tenant_process_and_day(decision_table) -> None:
    limits = Budget(daily_usd=1.0, daily_tokens=1000)
    reserve_budget("t1", "p", limits, 1.0, 10, day=DAY)
    for tenant, process, day in (("t2", "p", DAY), ("t1", "q", DAY), ("t1", "p", date(2026, 1, 3))):
        reserve_budget(tenant, process, limits, 1.0, 10, day=day)


def test_released_reservation_is_given_back(decision_table) -> None:
    limits = Budget(daily_usd=1.0, daily_tokens=1000)
    release_budget(reserve_budget("t1", "p", limits, 1.0, 1000, day=DAY))
    reserve_budget("t1", "p", limits, 1.0, 1000, day=DAY)


def test_concurrent_reservations_near_the_limit_never_overspend(decision_table) -> None:
    limits = Budget(daily_usd=1.0, daily_tokens=1_000_000)
    granted: list[int] = []
    refused: list[int] = []
    barrier = threading.Barrier(16)

    def worker(n: int) -> None:
        barrier.wait()
        for i in range(10):
            try:
                reserve_budget("t1", "p", limits, 0.03, 100, day=DAY)
                granted.append(n * 100 + i)
            except BudgetExhausted:
                refused.append(n * 100 + i)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    spent = budget_spent("t1", "p", DAY)
    assert len(granted) == 33 and len(refused) == 160 - 33  # floor(1.0 / 0.03)
    assert spent["usd"] == pytest.approx(0.99) and spent["usd"] <= limits.daily_usd


def test_exhausted_budget_makes_no_model_call_and_hands_the_case_off(
    ledger, kms, plan_key, decision_table
) -> None:
    from aios.planning import decide_case
    from aios.specs import get_spec

    limits = get_spec("ticket-triage").decision.budget
    reserve_budget("t1", "ticket-triage", limits, limits.daily_usd, 0)  # today's budget is gone
    provider = CountingOffline()
    case = new_case()
    decision = decide_case(
        case,
        models=config(provider, enforce_budgets=True),
        kms=kms,
        key_id=plan_key,
        ttl_seconds=600,
    )
    assert provider.requests == []
    assert decision.handoff.reason == "BUDGET_EXHAUSTED" and decision.plan is None
    view = cases.case_view(case.case_id)
    assert view["actions"] == [] and view["usage"]["calls"] == 0
    events = [e["type"] for e in cases.audit_view(case.case_id)["events"]]
    assert events[-1] == "decision.handed_off"


def test_decisions_spend_their_reported_usage_from_the_budget(
    ledger, kms, plan_key, decision_table
) -> None:
    from aios.planning import decide_case

    provider = CountingOffline()
    case = new_case()
    decision = decide_case(
        case,
        models=config(provider, enforce_budgets=True),
        kms=kms,
        key_id=plan_key,
        ttl_seconds=600,
    )
    spent = budget_spent("t1", "ticket-triage")
    usage = decision.usage
    assert spent["tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert spent["usd"] == pytest.approx(usage["cost_usd"], abs=2e-6)
    assert cases.case_view(case.case_id)["usage"] == usage


def test_unpriced_model_is_never_called(ledger, kms, plan_key, decision_table) -> None:
    from aios.planning import decide_case

    provider = CountingOffline()
    decision = decide_case(
        new_case(),
        models=config(provider, enforce_budgets=True, prices={}),
        kms=kms,
        key_id=plan_key,
        ttl_seconds=600,
    )
    assert provider.requests == [] and decision.handoff.reason == "BUDGET_EXHAUSTED"
