"""The chaos harness's invariant checks can fail: a lost or never-settled case, a silent
failure or skip, one business key under two idempotency keys or one key with two bodies, a
broken chain, two accepted clicks on one approval link, a refund made on a rejected approval
or never made on an accepted one, and an overspent, over-refunded or uncounted budget are all
reported; clean results hold."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import chaos
import chaos_budgets


@dataclass
class _Request:
    path: str
    body: str
    idempotency_key: str
    status: int = 200


def _case(status: str = "SUCCEEDED", actions: list[dict[str, Any]] | None = None) -> Any:
    return {"status": status, "actions": actions or [], "error": None}


def test_each_invariant_check_finds_its_violation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chaos, "_request", lambda *a, **k: (200, {"chain": {"valid": True}}))
    cases = {"c1": "T-1", "c2": "O-2"}
    lost = chaos._invariants("", cases, {"c1": None, "c2": _case()}, [])
    assert lost and lost[0].startswith("no case lost")
    silent = chaos._invariants("", cases, {"c1": _case("FAILED"), "c2": _case()}, [])
    assert silent and silent[0].startswith("rejection recorded")
    twice = [
        _Request("/helpdesk/tickets/T-1/triage", "a", "k1"),
        _Request("/helpdesk/tickets/T-1/triage", "a", "k2"),
    ]
    dup = chaos._invariants("", cases, {"c1": _case(), "c2": _case()}, twice)
    assert dup and dup[0].startswith("no duplicate side effect")
    clean = [_Request("/helpdesk/tickets/T-1/triage", "a", "k1")] * 2
    assert chaos._invariants("", cases, {"c1": _case(), "c2": _case()}, clean) == []
    monkeypatch.setattr(chaos, "_request", lambda *a, **k: (200, {"chain": {"valid": False}}))
    broken = chaos._invariants("", cases, {"c1": _case(), "c2": _case()}, [])
    assert broken and broken[0].startswith("audit chain verifies")

    both = chaos.Clicks("approval_race", [("approve", 200), ("reject", 200), ("approve", 409)])
    applied = _case(actions=[{"status": "APPLIED"}])
    refund = [_Request("/helpdesk/refunds/O-2", "r", "k3")]
    racing = chaos._approvals(cases, {"c2": both}, {"c2": applied}, refund)
    assert racing and racing[0].startswith("approval decided once")
    rejected = chaos.Clicks("approval_race", [("reject", 200), ("approve", 409)])
    unheard = chaos._approvals(cases, {"c2": rejected}, {"c2": applied}, refund)
    assert unheard and unheard[0].startswith("approval decided once")
    skipped = _case(actions=[{"status": "SKIPPED", "error": {"code": "APPROVAL_REJECTED"}}])
    assert chaos._approvals(cases, {"c2": rejected}, {"c2": skipped}, []) == []


def test_the_finer_violations_are_found_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chaos, "_request", lambda *a, **k: (200, {"chain": {"valid": True}}))
    cases = {"c1": "T-1", "c2": "O-2"}
    # A failed case whose actions have a status but nowhere a reason.
    applied_only = _case("FAILED", actions=[{"status": "APPLIED"}])
    silent = chaos._invariants("", cases, {"c1": applied_only, "c2": _case()}, [])
    assert silent and silent[0].startswith("rejection recorded")
    # A skipped action without its reason.
    bare = _case(actions=[{"status": "SKIPPED"}])
    unexplained = chaos._invariants("", cases, {"c1": bare, "c2": _case()}, [])
    assert unexplained and unexplained[0].startswith("rejection recorded")
    # One idempotency key, two different bodies stored: two side effects under one key.
    two = [
        _Request("/helpdesk/tickets/T-1/triage", "a", "k1"),
        _Request("/helpdesk/tickets/T-1/triage", "b", "k1"),
    ]
    dup = chaos._invariants("", cases, {"c1": _case(), "c2": _case()}, two)
    assert dup and dup[0].startswith("no duplicate side effect") and "2 bodies" in dup[0]

    applied = _case(actions=[{"status": "APPLIED"}])
    refund = [_Request("/helpdesk/refunds/O-2", "r", "k3")]
    approve = chaos.Clicks("approval_race", [("approve", 200), ("reject", 409)])
    # Approved, and the refund never made.
    skipped = _case(actions=[{"status": "SKIPPED", "error": {"code": "APPROVAL_TIMED_OUT"}}])
    unheard = chaos._approvals(cases, {"c2": approve}, {"c2": skipped}, [])
    assert unheard and unheard[0].startswith("approval decided once")
    # The action says APPLIED but the outside system never stored the refund.
    phantom = chaos._approvals(cases, {"c2": approve}, {"c2": applied}, [])
    assert phantom and phantom[0].startswith("approval decided once")
    assert chaos._approvals(cases, {"c2": approve}, {"c2": applied}, refund) == []
    # A click answered 5xx may have landed: applied with its approve unanswered is consistent,
    # applied with only a reject unanswered is not.
    maybe = chaos.Clicks("approval_race", [("approve", 500), ("reject", 409)])
    assert chaos._approvals(cases, {"c2": maybe}, {"c2": applied}, refund) == []
    rejected = chaos.Clicks("approval_race", [("reject", 500), ("approve", 409)])
    wrong = chaos._approvals(cases, {"c2": rejected}, {"c2": applied}, refund)
    assert wrong and wrong[0].startswith("approval decided once")


def test_an_audit_chain_that_cannot_be_read_does_not_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chaos, "_request", lambda *a, **k: (chaos.GATEWAY_TIMEOUT, "no answer"))
    found = chaos._invariants("", {"c1": "T-1"}, {"c1": _case()}, [])
    assert found and found[0].startswith("audit chain verifies") and "unreadable" in found[0]


def test_a_case_that_never_settles_is_reported_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chaos, "_request", lambda *a, **k: (200, {"status": "RUNNING"}))
    monkeypatch.setattr(chaos.time, "sleep", lambda s: None)
    final = chaos._settle("", {"c1": "T-1"}, deadline=chaos.time.monotonic() + 0.05)
    assert final == {"c1": None}
    lost = chaos._invariants("", {"c1": "T-1"}, final, [])
    assert lost == ["no case lost: c1 (T-1) not settled"]


def _usage(usd: float, tokens: int, calls: int = 2) -> dict[str, Any]:
    return {"cost_usd": usd, "input_tokens": tokens, "output_tokens": 0, "calls": calls}


def _decided(usd: float, tokens: int) -> dict[str, Any]:
    return {"tenant": "t", "process": "ticket-triage", "usage": _usage(usd, tokens)}


KEY = "BUDGET#t#ticket-triage#2026-12-01"
LIMITS = {"ticket-triage": chaos_budgets.Limit(usd=1.0, tokens=10_000)}


def test_the_budget_check_finds_an_overspent_budget() -> None:
    Spend = chaos_budgets.Spend
    cases = {"c1": _decided(0.01, 100), "c2": _decided(0.02, 200)}
    before = {KEY: Spend(900_000, 1_000)}
    within = {KEY: Spend(1_000_000, 1_300)}  # exactly at the limit
    assert chaos_budgets.check_budgets(before, within, LIMITS, cases, in_flight=1) == []
    # Past the limit by less than one in-flight call's settlement: what the design allows.
    settling = {KEY: Spend(1_015_000, 1_300)}
    assert chaos_budgets.check_budgets(before, settling, LIMITS, cases, in_flight=1) == []
    over = {KEY: Spend(1_100_000, 1_300)}  # 0.1 USD over: more than one call in flight
    found = chaos_budgets.check_budgets(before, over, LIMITS, cases, in_flight=1)
    assert found and found[0].startswith("no budget overspent") and "1.100000 USD" in found[0]
    tokens = {KEY: Spend(950_000, 10_201)}
    assert chaos_budgets.check_budgets(before, tokens, LIMITS, cases, in_flight=1)
    # A budget nobody touched during the run is not the run's (a test seeded it, say).
    assert chaos_budgets.check_budgets(over, over, LIMITS, {}, in_flight=1) == []


def test_the_budget_check_finds_spend_given_back_twice_or_never_counted() -> None:
    Spend = chaos_budgets.Spend
    cases = {"c1": _decided(0.01, 100)}
    negative = {KEY: Spend(-10_000, 0)}
    found = chaos_budgets.check_budgets({}, negative, LIMITS, {}, in_flight=1)
    assert found and "negative" in found[0]
    # The cases recorded 0.01 USD of model use; the budget counted none of it.
    uncounted = chaos_budgets.check_budgets({}, {}, LIMITS, cases, in_flight=1)
    assert (
        uncounted and uncounted[0].startswith("no budget overspent") and "counted" in uncounted[0]
    )
    counted = {KEY: Spend(10_000, 100)}
    assert chaos_budgets.check_budgets({}, counted, LIMITS, cases, in_flight=1) == []
    unknown = chaos_budgets.check_budgets({}, counted, {}, cases, in_flight=1)
    assert unknown and "no budget" in unknown[0]


def test_budget_keys_parse() -> None:
    assert chaos_budgets.parse_key(KEY) == ("t", "ticket-triage", "2026-12-01")
    assert chaos_budgets.budget_key("t", "ticket-triage", "2026-12-01") == KEY
