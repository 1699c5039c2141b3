"""The kill switch (guarantee 9): a revoked capability, process or tenant applies nothing after
the revocation lands. Decide hands the case to a person instead of planning it; Execute refuses
an action already on the queue with CAPABILITY_REVOKED, recorded, with no effect; restoring
lets new cases run. Revocations are on their own audit chain."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aios import execution
from aios.control import revocations
from aios.ledger import LedgerItem, action_sk, case_pk

from tests.reliability.test_constraints import ObedientModel, _case, _decide, refund_action
from tests.reliability.test_execution_plane import _settings
from tests.reliability.test_queue_forgery import Tasks, _context


def _small_refund() -> ObedientModel:
    return ObedientModel([refund_action(20)])


def _run(out: dict[str, Any], token: str, ctx: Any) -> Any:
    body = json.dumps({
        "task_token": token, "plan": out["plan"], "action": out["actions"][0],
        "attestation": out["attestation"],
    })  # fmt: skip
    return execution.run_message(f"m-{token}", body, ctx)


def test_a_revoked_process_is_handed_off_before_any_model_call(
    ledger, decision_table, kms, plan_key
) -> None:
    revocations.revoke("process", "refund-request", reason="incident 42", by="ops@example.com")
    model = _small_refund()
    out = _decide(_case(), model, kms, plan_key)
    assert model.requests == []  # no model call: nothing spent on a revoked process
    assert out["handoff"]["reason"] == "CAPABILITY_REVOKED"
    assert "process refund-request is revoked" in out["handoff"]["detail"]


def test_a_capability_revoked_for_one_tenant_stops_that_tenant_only(
    ledger, decision_table, kms, plan_key
) -> None:
    revocations.revoke("capability", "http.post", tenant="t1")
    stopped = _decide(_case(tenant="t1"), _small_refund(), kms, plan_key)
    assert stopped["handoff"]["reason"] == "CAPABILITY_REVOKED"
    assert stopped["plan"] is None
    other = _decide(_case(tenant="t2"), _small_refund(), kms, plan_key)
    assert other["handoff"] is None and len(other["actions"]) == 1


@pytest.mark.parametrize(
    ("kind", "name"),
    [("capability", "http.post"), ("process", "refund-request"), ("tenant", "t1")],
)
def test_queued_actions_revoked_before_they_run_apply_nothing_and_restore_lets_new_cases_run(
    ledger, decision_table, kms, plan_key, peer, kind: str, name: str
) -> None:
    queued = [_decide(_case(), _small_refund(), kms, plan_key) for _ in range(2)]
    tasks = Tasks("q0", "q1", "new")
    ctx = _context(kms, plan_key, _settings(peer), tasks)
    revocations.revoke(kind, name, reason="stop", by="ops")  # type: ignore[arg-type]
    for n, out in enumerate(queued):
        outcome = _run(out, f"q{n}", ctx)
        assert outcome.kind == "rejected" and outcome.error["code"] == "CAPABILITY_REVOKED"
        assert outcome.error["revoked"]["kind"] == kind
        case_id = out["plan"]["envelope"]["case_id"]
        assert LedgerItem.get(case_pk(case_id), action_sk(0)).status == "REJECTED"
    assert peer.requests == []  # nothing applied after the revocation landed

    assert revocations.restore(kind, name, by="ops")  # type: ignore[arg-type]
    fresh = _decide(_case(), _small_refund(), kms, plan_key)
    assert _run(fresh, "new", ctx).kind == "applied"
    assert len(peer.requests) == 1


def test_revocations_are_on_their_own_audit_chain(ledger) -> None:
    revocations.revoke("capability", "email.send", reason="spam wave", by="alice")
    revocations.revoke("capability", "email.send", reason="again", by="bob")  # no change
    assert revocations.restore("capability", "email.send", reason="fixed", by="carol")
    assert not revocations.restore("capability", "email.send", by="carol")  # nothing to lift
    events, verdict = revocations.audit()
    assert [e["type"] for e in events] == ["revocation.revoked", "revocation.restored"]
    assert events[0]["data"]["by"] == "alice" and events[1]["data"]["restored_by"] == "carol"
    assert verdict.valid and verdict.length == 2
    assert revocations.current().entries == {}

    item = LedgerItem.get("CONTROL", "AUDIT#0000000001")
    item.update(actions=[LedgerItem.data.set({**item.data, "reason": "routine"})])
    _, verdict = revocations.audit()
    assert not verdict.valid and verdict.seq == 1
