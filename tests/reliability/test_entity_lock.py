"""Two actions updating one entity at once: the optimistic lock lets one win; the other
re-reads and lands on the new version, in the same transaction as its APPLIED record."""

from __future__ import annotations

import threading
from typing import Any

from aios import cases, execution
from aios.capabilities import get_capability
from aios.ledger import LedgerItem, Put, action_sk, case_pk, commit, create_case
from aios.plans import ActionMessage, ActionSpec
from aios.settings import load_settings
from aios.signing import SignedPlan, new_envelope


def _runnable_action(case_id: str, field: str, value: str) -> ActionSpec:
    create_case(case_id, "RUNNING", {"process": "test"}, [("case.received", {})])
    spec = ActionSpec(
        action_id=f"{case_id}.p1.a0",
        case_id=case_id,
        plan_id=f"{case_id}.p1",
        index=0,
        capability="ledger.update_entity",
        params={"set": {field: value}},
        entity_key="customer#42",
        risk="low",
    )
    commit(
        case_id,
        [("action.attested", {})],
        ops=(
            Put(
                LedgerItem(
                    case_pk(case_id),
                    action_sk(0),
                    kind="action",
                    status="APPROVED",
                    data={"action_id": spec.action_id, "attestation": {"digest": spec.digest()}},
                )
            ),
        ),
    )
    return spec


def _verified(spec: ActionSpec, capability: Any) -> execution.VerifiedAction:
    envelope = new_envelope(
        case_id=spec.case_id,
        plan_id=spec.plan_id,
        process="test",
        tenant="t",
        action_digests=[spec.digest()],
        key_id="k",
        ttl_seconds=60,
    )
    message = ActionMessage(
        task_token="t",
        plan=SignedPlan(envelope=envelope, signature=""),
        action={**spec.model_dump(), "gate": "auto", "digest": spec.digest()},
    )
    return execution.VerifiedAction(
        message=message, capability=capability, params=capability.validate_params(spec.params)
    )


def test_concurrent_updates_of_one_entity_both_land_in_version_order(ledger) -> None:
    both_read = threading.Barrier(2)
    first_landed = threading.Event()
    base = get_capability("ledger.update_entity")
    stage_calls: list[int] = []

    def racing_stage(params: Any, ctx: Any) -> Any:
        staged = base.stage(params, ctx)
        stage_calls.append(staged[1]["version"])
        if len(stage_calls) <= 2:
            both_read.wait(timeout=10)  # both have read version 0 before either writes
            if ctx.case_id == "c-b":
                # The loser commits its stale version 0 only after the winner landed, so the
                # race is decided by the lock, not by the emulator's thread scheduling.
                first_landed.wait(timeout=10)
        return staged

    capability = base.model_copy(update={"stage": racing_stage})
    actions = [
        _runnable_action("c-a", "email", "a@example.com"),
        _runnable_action("c-b", "tier", "gold"),
    ]
    results: dict[str, Any] = {}
    settings = load_settings({"AIOS_LEDGER_TABLE": "ledger"})

    def apply(spec: ActionSpec) -> None:
        results[spec.case_id] = execution.apply_action(
            _verified(spec, capability), settings, lambda *_: {}
        )
        if spec.case_id == "c-a":
            first_landed.set()

    threads = [threading.Thread(target=apply, args=(a,)) for a in actions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    entity = LedgerItem.get("ENTITY#customer#42", "ENTITY")
    assert entity.seq == 2
    assert entity.data == {"email": "a@example.com", "tier": "gold"}
    assert (results["c-a"]["version"], results["c-b"]["version"]) == (1, 2)
    assert stage_calls.count(1) == 2 and stage_calls.count(2) == 1  # the loser re-read once
    for case_id in ("c-a", "c-b"):
        assert LedgerItem.get(case_pk(case_id), action_sk(0)).status == "APPLIED"
        assert cases.audit_view(case_id)["chain"]["valid"]
