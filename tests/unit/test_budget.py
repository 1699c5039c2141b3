"""Budgets: reserve before the call, settle after, fail closed, never overspend concurrently."""

from __future__ import annotations

import itertools
import json
import math
import re
import threading
from datetime import date
from typing import Any

import pytest
from aios import cases
from aios.budget import Reservation, budget_spent, release_budget, reserve_budget, settle_budget
from aios.errors import BudgetExhausted
from aios.specs import Budget
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


@pytest.fixture
def dynamodb_requests(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """Handle each emulated DynamoDB request alone; returns them as (operation, body), in order.

    moto answers a conditional UpdateItem in steps (read the item, check the condition, write)
    without a lock, so two threads can interleave inside one request: something DynamoDB never
    does to an item. One lock around each request gives back that per-request atomicity, and
    nothing more: the threads still race, and their requests arrive in whatever order they
    happen to. What the code then guarantees is its own doing, not the emulator's.
    """
    from moto.core.botocore_stubber import BotocoreStubber

    lock = threading.Lock()
    seen: list[tuple[str, dict[str, Any]]] = []
    handle = BotocoreStubber.process_request

    def one_at_a_time(self: BotocoreStubber, request: Any) -> Any:
        with lock:
            target = request.headers.get("X-Amz-Target") or b""
            if isinstance(target, bytes):
                target = target.decode()
            if target.startswith("DynamoDB_"):
                seen.append((target.partition(".")[2], json.loads(request.body or b"{}")))
            return handle(self, request)

    monkeypatch.setattr(BotocoreStubber, "process_request", one_at_a_time)
    return seen


@pytest.mark.parametrize(
    ("limits", "usd", "tokens", "spent"),
    [
        (Budget(daily_usd=1.0, daily_tokens=1_000_000), 0.03, 100, {"usd": 0.99, "tokens": 3300}),
        (
            Budget(daily_usd=1000.0, daily_tokens=100_000),
            0.03,
            3000,
            {"usd": 0.99, "tokens": 99_000},
        ),
    ],
    ids=["usd-bound", "tokens-bound"],
)
def test_racing_reservations_grant_exactly_what_the_limit_allows(
    decision_table, dynamodb_requests, limits: Budget, usd: float, tokens: int, spent: dict
) -> None:
    granted: list[int] = []
    refused: list[int] = []
    barrier = threading.Barrier(16)

    def worker(n: int) -> None:
        barrier.wait(timeout=30)
        for i in range(10):
            try:
                reserve_budget("t1", "p", limits, usd, tokens, day=DAY)
                granted.append(n * 100 + i)
            except BudgetExhausted:
                refused.append(n * 100 + i)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    # Every attempt was one UpdateItem (no read-then-write, no retry), each handled alone.
    assert [op for op, _ in dynamodb_requests] == ["UpdateItem"] * 160
    assert len(granted) == 33 and len(refused) == 160 - 33  # floor(limit / cost)
    assert budget_spent("t1", "p", DAY) == pytest.approx(spent)


def _resolved(body: dict[str, Any], expression: str) -> str:
    """An expression of a DynamoDB request with its #name and :value placeholders filled in."""
    names = body.get("ExpressionAttributeNames", {})
    values = {
        k: next(iter(v.values())) for k, v in body.get("ExpressionAttributeValues", {}).items()
    }
    text = body[expression]
    for placeholder in sorted([*names, *values], key=len, reverse=True):
        text = text.replace(placeholder, str({**names, **values}[placeholder]))
    return str(text)


def test_a_reservation_is_one_update_whose_condition_bounds_both_totals(
    decision_table, dynamodb_requests
) -> None:
    limits = Budget(daily_usd=1.0, daily_tokens=1000)
    reserve_budget("t1", "p", limits, 0.25, 100, day=DAY)
    [(operation, body)] = dynamodb_requests  # the check and the write are one request
    assert operation == "UpdateItem"
    assert body["Key"] == {"item_key": {"S": f"BUDGET#t1#p#{DAY.isoformat()}"}}
    update = _resolved(body, "UpdateExpression")
    assert re.search(r"ADD\b.*\bspent_micros 250000\b", update)
    assert re.search(r"ADD\b.*\bspent_tokens 100\b", update)
    condition = _resolved(body, "ConditionExpression")
    # DynamoDB evaluates the condition on the item as it is when the write lands.
    assert "spent_micros <= 750000" in condition and "spent_tokens <= 900" in condition


def test_a_reservation_may_fill_the_budget_to_the_last_micro_but_not_beyond(
    decision_table,
) -> None:
    limits = Budget(daily_usd=1.0, daily_tokens=1000)
    reserve_budget("t1", "p", limits, 0.999999, 999, day=DAY)  # one micro-USD and token left
    for usd, tokens in ((0.000002, 1), (0.000001, 2)):
        with pytest.raises(BudgetExhausted):
            reserve_budget("t1", "p", limits, usd, tokens, day=DAY)
        assert budget_spent("t1", "p", DAY) == {"usd": 0.999999, "tokens": 999}
    reserve_budget("t1", "p", limits, 0.000001, 1, day=DAY)
    assert budget_spent("t1", "p", DAY) == {"usd": 1.0, "tokens": 1000}
    with pytest.raises(BudgetExhausted):
        reserve_budget("t1", "p", limits, 0.0, 1, day=DAY)


LIMITS = Budget(daily_usd=1.0, daily_tokens=1000)
LIMIT_MICROS = 1_000_000
_tenants = itertools.count()

operations = st.lists(
    st.one_of(
        # reserve: an amount in micro-USD and tokens
        st.tuples(st.just("reserve"), st.integers(0, 400_000), st.integers(0, 400)),
        # fill: reserve what is left, give or take one unit (the boundary)
        st.tuples(st.just("fill"), st.integers(-1, 1), st.integers(-1, 1)),
        # settle an outstanding reservation with an actual usage (which may exceed it)
        st.tuples(st.just("settle"), st.integers(0, 500_000), st.integers(0, 500)),
        st.tuples(st.just("release"), st.just(0), st.just(0)),
    ),
    max_size=20,
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(operations, st.randoms(use_true_random=False))
def test_any_sequence_of_calls_keeps_the_books_and_never_reserves_past_the_limit(
    decision_table, ops: list[tuple[str, int, int]], rnd: Any
) -> None:
    """Against a model: a reservation is granted exactly when it fits under both limits,
    a refused one changes nothing, and settling or releasing moves the totals by the difference.
    (Settling with more than was reserved may go past the limit; only reservations are bounded.)"""
    tenant = f"t{next(_tenants)}"
    spent_micros = spent_tokens = 0
    outstanding: list[Reservation] = []
    for op, a, b in ops:
        if op in ("reserve", "fill"):
            if op == "fill":
                a = max(0, LIMIT_MICROS - spent_micros + a)
                b = max(0, LIMITS.daily_tokens - spent_tokens + b)
            usd = a / 1e6
            micros = math.ceil(usd * 1e6)  # charged rounded up to the micro-USD
            fits = spent_micros + micros <= LIMIT_MICROS and spent_tokens + b <= LIMITS.daily_tokens
            try:
                outstanding.append(reserve_budget(tenant, "p", LIMITS, usd, b, day=DAY))
            except BudgetExhausted:
                assert not fits, (spent_micros, spent_tokens, micros, b)
            else:
                assert fits, (spent_micros, spent_tokens, micros, b)
                spent_micros += micros
                spent_tokens += b
                assert spent_micros <= LIMIT_MICROS and spent_tokens <= LIMITS.daily_tokens
        elif outstanding:
            r = outstanding.pop(rnd.randrange(len(outstanding)))
            if op == "settle":
                settle_budget(r, a / 1e6, b)
                spent_micros += math.ceil(a / 1e6 * 1e6) - r.usd_micros
                spent_tokens += b - r.tokens
            else:
                release_budget(r)
                spent_micros -= r.usd_micros
                spent_tokens -= r.tokens
        assert budget_spent(tenant, "p", DAY) == {"usd": spent_micros / 1e6, "tokens": spent_tokens}


@pytest.fixture
def frozen_day(monkeypatch: pytest.MonkeyPatch) -> date:
    """Budgets are per UTC day: a test that ran across midnight would read another day's."""
    import aios.budget

    monkeypatch.setattr(aios.budget, "_today", lambda: DAY)
    return DAY


def test_exhausted_budget_makes_no_model_call_and_hands_the_case_off(
    ledger, kms, plan_key, decision_table, frozen_day
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
    ledger, kms, plan_key, decision_table, frozen_day
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
