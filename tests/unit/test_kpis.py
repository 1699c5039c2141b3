"""Decision-quality KPIs on crafted ledgers with known answers: each figure, empty windows,
divide-by-zero, attribution to the model and prompt that proposed, and the time window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aios.errors import InvalidInput
from aios.kpis import ALL, KpiRow, case_facts, compute_kpis, kpi_report, parse_window, percentile
from aios.kpis.facts import ActionFacts, CaseFacts
from aios.ledger import LedgerItem

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
OFFLINE = ("model-a", "prompt@1")
OTHER = ("model-b", "prompt@2")


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")


def item(kind: str, sk: str, status: str, data: dict[str, Any], created: float = 0) -> LedgerItem:
    return LedgerItem("CASE#c1", sk, kind=kind, status=status, data=data, created_at=at(created))


def action(index: int, status: str, attestation: str | None, attribution=OFFLINE) -> LedgerItem:
    data = {
        "action_id": f"c1.p1.a{index}",
        "index": index,
        "model_id": attribution[0],
        "prompt_version": attribution[1],
        "attestation": {"type": attestation} if attestation else None,
    }
    return item("action", f"ACTION#{index:03d}", status, data)


def audit(seq: int, type_: str, data: dict[str, Any], seconds: float) -> LedgerItem:
    return item("audit", f"AUDIT#{seq:010d}", type_, data, seconds)


def usage(cost: float, hits: int, misses: int, model: str = "model-a") -> dict[str, Any]:
    return {
        "cost_usd": cost,
        "cache": {"hits": hits, "misses": misses},
        "models": {"plan": model},
        "prompts": {"plan": "prompt@1" if model == "model-a" else "prompt@2"},
    }


def test_a_crafted_case_yields_its_known_facts() -> None:
    """Two plans (a re-plan), four actions, two approvals, a compensation, a person's step."""
    items = [
        item("case", "CASE", "FAILED", {"process": "p"}),
        action(0, "COMPENSATED", "policy"),  # applied automatically, then undone
        action(1, "APPLIED", "human"),  # applied after approval
        action(2, "SKIPPED", None),  # rejected
        action(3, "SUPERSEDED", None, OTHER),  # proposed by the first plan's model, replaced
        item("approval", "APPROVAL#c1.p1.a1", "APPROVED", {"action_id": "c1.p1.a1"}),
        item("approval", "APPROVAL#c1.p1.a2", "REJECTED", {"action_id": "c1.p1.a2"}),
        item("plan", "PLAN#c1.p2", "SIGNED", {"plan_id": "c1.p2", "usage": usage(0.03, 1, 1)}),
        item("plan", "PLAN#c1.p1", "SUPERSEDED", {"plan_id": "c1.p1", "usage": usage(0.02, 0, 2, "model-b")}),
        audit(1, "case.received", {}, 0),
        audit(2, "action.applied", {"action_id": "c1.p1.a0"}, 5),
        audit(3, "approval.decided", {"approval_id": "c1.p1.a1"}, 42),
        audit(4, "operator.took", {}, 50),
        audit(5, "action.applied", {"action_id": "c1.p1.a1"}, 60),
        audit(6, "action.compensated", {"action_id": "c1.p1.a0"}, 70),
    ]  # fmt: skip
    facts = case_facts("p", items)
    assert facts.attribution == OFFLINE  # the latest plan (p2) decided the case
    assert facts.first_human_at == T0 + timedelta(seconds=42)
    assert facts.cost_usd == pytest.approx(0.05)
    assert (facts.cache_hits, facts.cache_misses) == (1, 3)
    by_id = {a.action_id: a for a in facts.actions}
    undone = by_id["c1.p1.a0"]
    assert (undone.applied, undone.rolled_back, undone.automatic) == (True, True, True)
    assert (by_id["c1.p1.a1"].applied, by_id["c1.p1.a1"].automatic) == (True, False)
    assert not by_id["c1.p1.a2"].applied and by_id["c1.p1.a3"].attribution == OTHER
    assert sorted(o for _, o in facts.approvals) == ["approved", "rejected"]
    [total, offline, other] = compute_kpis([facts])
    assert (total.model_id, offline.model_id, other.model_id) == (ALL, "model-a", "model-b")
    assert total.acceptance_rate == 0.5 and total.auto_applied_share == 0.25
    assert total.rollback_rate == 0.5 and total.human_intervention_rate == 1.0
    assert total.time_to_human_p50_s == 42.0 and total.model_cost_per_case_usd == 0.05
    assert total.cache_hit_rate == 0.25
    # The superseded action is the first plan's model's; the case and its costs the latest's.
    assert (other.cases, other.actions_proposed, other.applied, other.rollback_rate) == (
        0,
        1,
        0,
        None,
    )
    assert (offline.cases, offline.actions_proposed, offline.approved, offline.rejected) == (
        1,
        3,
        1,
        1,
    )


def case(
    n: int,
    *,
    human_after: float | None = None,
    handoffs: tuple[str, ...] = (),
    approvals: tuple[str, ...] = (),
    actions: tuple[ActionFacts, ...] = (),
    cost: float = 0.0,
    cache: tuple[int, int] = (0, 0),
    attribution: tuple[str, str] = OFFLINE,
    process: str = "p",
) -> CaseFacts:
    return CaseFacts(
        case_id=f"c{n}",
        process=process,
        created_at=T0,
        attribution=attribution,
        actions=list(actions),
        approvals=[(attribution, o) for o in approvals],
        first_human_at=None if human_after is None else T0 + timedelta(seconds=human_after),
        handoff_reasons=list(handoffs),
        cost_usd=cost,
        cache_hits=cache[0],
        cache_misses=cache[1],
    )


def act(applied: bool, rolled_back: bool = False, automatic: bool = False) -> ActionFacts:
    return ActionFacts("a", OFFLINE, applied, rolled_back, automatic)


def total(cases: list[CaseFacts]) -> KpiRow:
    return compute_kpis(cases)[0]


def test_no_cases_no_rows_and_an_empty_process_has_no_rates() -> None:
    assert compute_kpis([]) == []
    row = KpiRow(process="p", model_id=ALL, prompt_version=ALL)
    assert row.cases == 0 and row.acceptance_rate is None and row.model_cost_per_case_usd is None


def test_a_rate_without_a_denominator_is_none_never_zero() -> None:
    row = total([case(1)])
    assert row.cases == 1
    for rate in ("acceptance_rate", "auto_applied_share", "rollback_rate", "cache_hit_rate"):
        assert getattr(row, rate) is None, rate
    assert row.time_to_human_p50_s is None and row.time_to_human_p90_s is None
    # Rates over cases exist as soon as a case does, and are then 0, not None.
    assert row.human_intervention_rate == 0.0 and row.handoff_rate == 0.0
    assert row.model_cost_per_case_usd == 0.0


def test_acceptance_is_approved_over_decided_approvals_and_timeouts_do_not_count() -> None:
    row = total(
        [
            case(1, approvals=("approved", "approved", "rejected")),
            case(2, approvals=("changes", "other")),
        ]
    )
    assert (row.approved, row.rejected, row.changes_requested) == (2, 1, 1)
    assert row.acceptance_rate == 0.5


def test_auto_share_is_over_proposed_and_rollback_over_applied() -> None:
    actions = (
        act(True, automatic=True),
        act(True, rolled_back=True, automatic=True),
        act(True),
        act(False),
    )
    row = total([case(1, actions=actions)])
    assert (row.actions_proposed, row.applied, row.auto_applied, row.rolled_back) == (4, 3, 2, 1)
    assert row.auto_applied_share == 0.5 and row.rollback_rate == pytest.approx(0.3333)


def test_time_to_human_is_nearest_rank_over_the_cases_that_had_a_person() -> None:
    cases = [case(i, human_after=s) for i, s in enumerate((40, 10, 100, 30, 20))] + [case(9)]
    row = total(cases)
    assert row.cases_with_human_step == 5 and row.human_intervention_rate == pytest.approx(0.8333)
    assert (row.time_to_human_p50_s, row.time_to_human_p90_s) == (30.0, 100.0)
    assert percentile([], 50) is None and percentile([7.0], 90) == 7.0


def test_handoff_rate_counts_a_case_once_and_splits_by_reason() -> None:
    cases = [
        case(1, handoffs=("BUDGET_EXHAUSTED",)),
        case(2, handoffs=("INVALID_MODEL_OUTPUT", "INVALID_MODEL_OUTPUT")),
        case(3),
        case(4),
    ]
    row = total(cases)
    assert row.handed_off == 2 and row.handoff_rate == 0.5
    assert row.handoff_rate_by_reason == {"BUDGET_EXHAUSTED": 0.25, "INVALID_MODEL_OUTPUT": 0.25}


def test_model_cost_per_case_and_cache_hit_rate() -> None:
    row = total([case(1, cost=0.004, cache=(1, 1)), case(2, cost=0.002, cache=(2, 0))])
    assert row.model_cost_usd == pytest.approx(0.006) and row.model_cost_per_case_usd == 0.003
    assert row.cache_hit_rate == 0.75


def test_rows_per_process_then_per_model_and_prompt() -> None:
    rows = compute_kpis(
        [
            case(1, approvals=("approved",)),
            case(2, approvals=("rejected",), attribution=OTHER),
            case(3, process="q"),
        ]
    )
    assert [(r.process, r.model_id) for r in rows] == [
        ("p", ALL), ("p", "model-a"), ("p", "model-b"), ("q", ALL), ("q", "model-a"),
    ]  # fmt: skip
    assert [r.acceptance_rate for r in rows[:3]] == [0.5, 1.0, 0.0]


def test_the_report_reads_only_the_cases_created_in_its_window(
    ledger: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aios.ledger import create_case, repository
    from aios.specs import current_specs

    for n, minute in enumerate((0, 30, 59, 60, 90)):
        monkeypatch.setattr(repository, "now_iso", lambda m=minute: at(60 * m))
        create_case(
            f"c{n}",
            "RECEIVED",
            {"process": "ticket-triage", "tenant": "t"},
            [("case.received", {})],
        )
    report = kpi_report("ticket-triage", T0, T0 + timedelta(hours=1))
    assert [r.cases for r in report.rows] == [3, 3] and not report.truncated
    empty = kpi_report(None, T0 - timedelta(days=2), T0 - timedelta(days=1))
    assert {r.process for r in empty.rows} == set(current_specs())  # every process, empty
    assert all(r.cases == 0 and r.acceptance_rate is None for r in empty.rows)
    with pytest.raises(InvalidInput) as unknown:
        kpi_report("no-such-process", T0, T0 + timedelta(hours=1))
    assert unknown.value.details["field"] == "process"


def test_the_window_defaults_to_a_day_and_names_the_bad_field() -> None:
    assert parse_window(None, None, T0) == (T0 - timedelta(days=1), T0)
    assert parse_window("90m", "2026-03-02T09:00:00Z", T0) == (T0 - timedelta(minutes=90), T0)
    assert parse_window("2026-03-01T09:00:00", None, T0)[0] == T0 - timedelta(days=1)  # naive = UTC
    for since, until, field in (
        ("yesterday", None, "since"),
        (None, "soon", "until"),
        ("2026-03-02T10:00:00Z", None, "since"),  # after until
        ("40d", None, "since"),  # longer than 31 days
    ):
        with pytest.raises(InvalidInput) as bad:
            parse_window(since, until, T0)
        assert bad.value.details["field"] == field
