"""The ledger repository: reads that answer None for what is absent, staged writes that apply
with their audit events or not at all, and the decision store's budget counters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aios.errors import LedgerConflict
from aios.ledger import (
    create_case,
    get_action,
    get_case,
    get_entity,
    load_audit,
    now_iso,
    stage_action,
    stage_entity_write,
    transition_case,
)
from aios.ledger.decision_store import add_spend, get_spend, reserve_spend

EXPIRES = datetime(2026, 1, 9, tzinfo=UTC)


def test_get_action_is_none_until_the_action_is_recorded(ledger: str) -> None:
    create_case("c-1", "RECEIVED", {}, [("case.received", {})])
    assert get_action("c-1", 0) is None
    transition_case(
        "c-1",
        [("action.proposed", {"action_id": "c-1.p1.a0"})],
        to_status="RUNNING",
        from_statuses=["RECEIVED"],
        ops=(stage_action("c-1", 0, "PROPOSED", {"action_id": "c-1.p1.a0"}, now_iso()),),
    )
    action = get_action("c-1", 0)
    assert action is not None and action.status == "PROPOSED"
    assert action.data == {"action_id": "c-1.p1.a0"}
    assert get_action("c-1", 1) is None and get_action("c-other", 0) is None


def test_a_transition_from_another_status_writes_nothing(ledger: str) -> None:
    create_case("c-2", "RECEIVED", {"process": "p"}, [("case.received", {})])
    with pytest.raises(LedgerConflict):
        transition_case(
            "c-2",
            [("case.succeeded", {})],
            to_status="SUCCEEDED",
            from_statuses=["RUNNING", "WAITING_APPROVAL"],
            data=lambda case: {**case.data, "touched": True},
            ops=(stage_action("c-2", 0, "PROPOSED", {}, now_iso()),),
        )
    case = get_case("c-2")
    assert case.status == "RECEIVED" and case.data == {"process": "p"} and case.seq == 1
    assert get_action("c-2", 0) is None
    assert [e.type for e in load_audit("c-2")] == ["case.received"]


def test_a_transition_sets_status_and_data_with_its_audit_event(ledger: str) -> None:
    create_case("c-3", "RUNNING", {"process": "p"}, [("case.received", {})])
    transition_case(
        "c-3",
        [("case.failed", {"error": "x"})],
        to_status="FAILED",
        from_statuses=["RUNNING"],
        data=lambda case: {**case.data, "error": "x"},
    )
    case = get_case("c-3")
    assert case.status == "FAILED" and case.data == {"process": "p", "error": "x"}
    assert [e.type for e in load_audit("c-3")] == ["case.received", "case.failed"]


def test_an_entity_write_is_compare_and_set_on_its_version(ledger: str) -> None:
    create_case("c-4", "RUNNING", {}, [("case.received", {})])
    assert get_entity("order#1") is None

    def write(state: dict[str, str], version: int, action_id: str) -> None:
        op = stage_entity_write("order#1", state, version=version, action_id=action_id)
        transition_case(
            "c-4",
            [("entity.written", {})],
            to_status="RUNNING",
            from_statuses=["RUNNING"],
            ops=(op,),
        )

    write({"status": "paid"}, 0, "a0")
    with pytest.raises(LedgerConflict):
        write({"status": "lost"}, 0, "a1")  # created already: version 0 is gone
    write({"status": "shipped"}, 1, "a1")
    with pytest.raises(LedgerConflict):
        write({"status": "lost"}, 1, "a2")  # a stale version never wins
    entity = get_entity("order#1")
    assert entity is not None and entity.version == 2 and entity.state == {"status": "shipped"}


def test_budget_spend_is_reserved_within_both_limits_or_not_at_all(decision_table: str) -> None:
    key = "BUDGET#t#p#2026-01-02"
    assert get_spend(key) == (0, 0)
    limits = {"max_micros": 100, "max_tokens": 10, "expires_at": EXPIRES}
    assert reserve_spend(key, 60, 5, **limits) is True
    assert reserve_spend(key, 60, 1, **limits) is False  # USD would pass the limit
    assert reserve_spend(key, 10, 6, **limits) is False  # tokens would pass the limit
    assert get_spend(key) == (60, 5)
    add_spend(key, -20, -1)
    assert reserve_spend(key, 60, 6, **limits) is True
    assert get_spend(key) == (100, 10)
