"""A failed case whose earlier actions were applied: compensations run newest first, once each,
and are audited; a case that is not failing cannot be rolled back."""

from __future__ import annotations

import pytest
from aios import cases, execution
from aios.capabilities import get_capability
from aios.errors import ActionRejected
from aios.ledger import LedgerItem, Put, action_sk, case_pk, commit, create_case
from aios.plans import ActionSpec
from aios.settings import load_settings

from tests.reliability.test_entity_lock import _verified

SETTINGS = {"AIOS_LEDGER_TABLE": "ledger"}


def _applied_case(case_id: str, updates: list[dict]) -> list[str]:
    create_case(case_id, "RUNNING", {"process": "test"}, [("case.received", {})])
    capability = get_capability("ledger.update_entity")
    ids = []
    for index, fields in enumerate(updates):
        spec = ActionSpec(
            action_id=f"{case_id}.p1.a{index}",
            case_id=case_id,
            plan_id=f"{case_id}.p1",
            index=index,
            capability="ledger.update_entity",
            params={"set": fields},
            entity_key="order#7",
            risk="low",
        )
        commit(
            case_id,
            [("action.attested", {})],
            ops=(
                Put(
                    LedgerItem(
                        case_pk(case_id),
                        action_sk(index),
                        kind="action",
                        status="APPROVED",
                        data={
                            **spec.model_dump(),
                            "digest": spec.digest(),
                            "attestation": {"digest": spec.digest()},
                        },
                    )
                ),
            ),
        )
        execution.apply_action(_verified(spec, capability), load_settings(SETTINGS), lambda *_: {})
        ids.append(spec.action_id)
    return ids


def test_compensations_run_in_reverse_order_once_each(ledger) -> None:
    ids = _applied_case("c-comp", [{"status": "paid"}, {"status": "shipped", "carrier": "dhl"}])
    assert LedgerItem.get("ENTITY#order#7", "ENTITY").data == {
        "status": "shipped",
        "carrier": "dhl",
    }
    cases.finalize_case(
        "c-comp", "COMPENSATING", {"Error": "Aios.ActionFailed", "Cause": "third action refused"}
    )
    run_once, _ = execution.idempotent_runner("idempotency")

    first = execution.compensate_case("c-comp", load_settings(SETTINGS), run_once)
    again = execution.compensate_case("c-comp", load_settings(SETTINGS), run_once)

    assert first == again == {"compensated": [ids[1], ids[0]], "not_compensable": []}
    assert LedgerItem.get("ENTITY#order#7", "ENTITY").data == {}
    events = [e for e in cases.audit_view("c-comp")["events"] if e["type"] == "action.compensated"]
    assert [e["data"]["action_id"] for e in events] == [ids[1], ids[0]]
    assert cases.audit_view("c-comp")["chain"]["valid"]
    assert {LedgerItem.get(case_pk("c-comp"), action_sk(i)).status for i in (0, 1)} == {
        "COMPENSATED"
    }


def test_a_case_that_is_not_failing_cannot_be_rolled_back(ledger) -> None:
    _applied_case("c-ok", [{"status": "paid"}])
    run_once, _ = execution.idempotent_runner("idempotency")
    with pytest.raises(ActionRejected, match="not COMPENSATING"):
        execution.compensate_case("c-ok", load_settings(SETTINGS), run_once)
    assert LedgerItem.get("ENTITY#order#7", "ENTITY").data == {"status": "paid"}


def test_actions_without_a_compensation_are_reported_not_undone(ledger) -> None:
    create_case("c-http", "RUNNING", {"process": "test"}, [("case.received", {})])
    commit(
        "c-http",
        [("action.applied", {})],
        ops=(
            Put(
                LedgerItem(
                    case_pk("c-http"),
                    action_sk(0),
                    kind="action",
                    status="APPLIED",
                    data={
                        "action_id": "c-http.p1.a0",
                        "index": 0,
                        "capability": "http.post",
                        "params": {},
                        "entity_key": "x",
                    },
                )
            ),
        ),
    )
    cases.finalize_case("c-http", "COMPENSATING", {"Error": "x"})
    run_once, _ = execution.idempotent_runner("idempotency")
    assert execution.compensate_case("c-http", load_settings(SETTINGS), run_once) == {
        "compensated": [],
        "not_compensable": ["c-http.p1.a0"],
    }
