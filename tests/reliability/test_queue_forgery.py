"""Guarantee 3 against a queue writer without a signing key: a forged or malformed message is
refused and recorded, never changes a genuine plan, action, approval or case, and never holds
its message group. Domain level: the real decision tree over moto, task answers recorded."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aios import cases, execution
from aios.cases import compensation_key_hash
from aios.execution import ExecutionContext
from aios.ledger import LedgerItem, action_sk, case_pk, commit, create_case

from tests.conftest import keyring_of
from tests.reliability.test_compensation import _applied_case
from tests.reliability.test_execution_plane import _settings


class Tasks:
    """Step Functions' side: a live token takes one answer; any other answer is refused."""

    def __init__(self, *live: str) -> None:
        self.live = set(live)
        self.answers: list[tuple[str, str]] = []

    def _take(self, token: str, what: str) -> bool:
        self.answers.append((token, what))
        if token in self.live:
            self.live.discard(token)
            return True
        return False

    def succeed(self, token: str, output: dict[str, Any]) -> bool:
        return self._take(token, "success")

    def fail(self, token: str, error: str, cause: dict[str, Any]) -> bool:
        return self._take(token, error)


def _context(kms: Any, plan_key: str, settings: Any, tasks: Tasks) -> ExecutionContext:
    run_once, _ = execution.idempotent_runner("idempotency")
    return ExecutionContext(
        settings=settings,
        keyring=keyring_of(kms, plan_key),
        run_once=run_once,
        succeed_task=tasks.succeed,
        fail_task=tasks.fail,
    )


def _body(out: dict[str, Any], token: str, **action_changes: Any) -> str:
    action = {**out["actions"][0], **action_changes}
    return json.dumps(
        {
            "task_token": token,
            "plan": out["plan"],
            "action": action,
            "attestation": out["attestation"],
        }
    )


def _status(case_id: str, index: int) -> str:
    return str(LedgerItem.get(case_pk(case_id), action_sk(index)).status)


def _events(case_id: str) -> list[dict[str, Any]]:
    return list(cases.audit_view(case_id)["events"])


def test_forged_message_on_an_approved_queued_action_changes_nothing_and_the_genuine_applies_once(
    decided, kms, plan_key, peer
) -> None:
    case_id, out = decided
    index = out["actions"][0]["index"]
    tasks = Tasks("genuine-token")
    ctx = _context(kms, plan_key, _settings(peer), tasks)
    params = {**out["actions"][0]["params"], "path": "/tickets/T-9/refund"}
    forged = execution.run_message("m-1", _body(out, "forged-token", params=params), ctx)
    assert forged.kind == "rejected" and forged.error["code"] == "ACTION_NOT_IN_PLAN"
    assert forged.answered is False
    assert _status(case_id, index) == "APPROVED"  # the genuine action is untouched
    assert _events(case_id)[-1]["type"] == "action.rejected"
    genuine = execution.run_message("m-2", _body(out, "genuine-token"), ctx)
    assert genuine.kind == "applied" and genuine.answered is True
    assert _status(case_id, index) == "APPLIED"
    assert len(peer.requests) == 1
    assert cases.audit_view(case_id)["chain"]["valid"]


def test_forged_token_on_a_pending_action_leaves_it_pending(decided, kms, plan_key, peer) -> None:
    case_id, out = decided
    action = out["actions"][0]
    item = LedgerItem.get(case_pk(case_id), action_sk(action["index"]))
    item.update(
        actions=[
            LedgerItem.status.set("PROPOSED"),
            LedgerItem.data.set({**item.data, "attestation": None}),
        ]
    )
    ctx = _context(kms, plan_key, _settings(peer), Tasks())
    unattested = {**out, "attestation": None}
    outcome = execution.run_message("m-3", _body(unattested, "forged-token"), ctx)
    assert outcome.error["code"] == "ATTESTATION_MISSING"
    assert _status(case_id, action["index"]) == "PROPOSED"
    assert peer.requests == []


def test_untrusted_key_changes_nothing(decided, kms, plan_key, peer) -> None:
    case_id, out = decided
    plan = json.loads(json.dumps(out["plan"]))
    plan["envelope"]["key_id"] = "arn:aws:kms:us-east-1:111122223333:key/attacker"
    body = json.dumps({"task_token": "forged", "plan": plan, "action": out["actions"][0]})
    outcome = execution.run_message("m-4", body, _context(kms, plan_key, _settings(peer), Tasks()))
    assert outcome.error["code"] == "SIGNATURE_INVALID"
    assert _status(case_id, out["actions"][0]["index"]) == "APPROVED"


def test_a_rejection_the_case_machine_vouches_for_rejects_the_action(
    decided, kms, plan_key, peer
) -> None:
    case_id, out = decided
    params = {**out["actions"][0]["params"], "path": "/x"}
    tasks = Tasks("live-token")
    outcome = execution.run_message(
        "m-5",
        _body(out, "live-token", params=params),
        _context(kms, plan_key, _settings(peer), tasks),
    )
    assert outcome.answered is True and tasks.answers == [("live-token", "Aios.NotInPlan")]
    assert _status(case_id, out["actions"][0]["index"]) == "REJECTED"


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        '{"task_token": "t", "plan": NaN, "action": {}}',
        "[" * 5000 + "]" * 5000,
        json.dumps({"task_token": 5, "plan": {}, "action": {}}),
        json.dumps({"compensate": {"case_id": ["x"], "key": "k"}, "task_token": "t"}),
    ],
    ids=["not-json", "list", "nan", "deep", "wrong-types", "compensate-wrong-types"],
)
def test_malformed_message_is_refused_at_once_and_recorded(ledger, kms, plan_key, body) -> None:
    ctx = _context(
        kms, plan_key, _settings(type("P", (), {"url": "http://127.0.0.1:9"})()), Tasks()
    )
    outcome = execution.run_message("m-bad", body, ctx)
    assert outcome.kind == "rejected" and outcome.error["code"] == "MALFORMED_MESSAGE"
    item = LedgerItem.get("REJECTION#m-bad", "REJECTION")
    assert item.data["reason"]["code"] == "MALFORMED_MESSAGE"


def test_out_of_range_integer_in_signed_params_is_refused_not_retried(
    decided, kms, plan_key, peer
) -> None:
    case_id, out = decided
    params = {**out["actions"][0]["params"], "body": {"amount": 2**64}}
    outcome = execution.run_message(
        "m-big",
        _body(out, "forged", params=params),
        _context(kms, plan_key, _settings(peer), Tasks()),
    )
    assert outcome.kind == "rejected" and outcome.error["code"] == "MALFORMED_MESSAGE"
    assert (
        LedgerItem.get("REJECTION#m-big", "REJECTION").data["reason"]["code"] == "MALFORMED_MESSAGE"
    )
    assert _status(case_id, out["actions"][0]["index"]) == "APPROVED"


def _compensating(case_id: str, key: str) -> list[str]:
    ids = _applied_case(case_id, [{"status": "paid"}])
    commit(
        case_id,
        [("case.compensating", {})],
        case_actions=lambda c: [
            LedgerItem.status.set("COMPENSATING"),
            LedgerItem.data.set({**c.data, "compensation_key_sha256": compensation_key_hash(key)}),
        ],
    )
    return ids


def _compensate(case_id: str, key: str, token: str = "t") -> str:
    return json.dumps({"task_token": token, "compensate": {"case_id": case_id, "key": key}})


def test_compensation_without_the_case_machines_key_undoes_nothing(ledger, kms, plan_key) -> None:
    _compensating("c-key", "the-real-key")
    ctx = _context(
        kms, plan_key, _settings(type("P", (), {"url": "http://127.0.0.1:9"})()), Tasks("t")
    )
    refused = execution.run_message("m-c1", _compensate("c-key", "guessed"), ctx)
    assert refused.kind == "rejected" and refused.error["code"] == "COMPENSATION_REFUSED"
    assert LedgerItem.get(case_pk("c-key"), action_sk(0)).status == "APPLIED"
    assert _events("c-key")[-1]["type"] == "compensation.rejected"
    done = execution.run_message("m-c2", _compensate("c-key", "the-real-key", "t2"), ctx)
    assert done.kind == "compensated" and done.result["compensated"] == ["c-key.p1.a0"]


def test_compensation_of_a_healthy_or_unknown_case_is_refused_and_recorded(
    ledger, kms, plan_key
) -> None:
    create_case("c-healthy", "SUCCEEDED", {"process": "test"}, [("case.received", {})])
    ctx = _context(
        kms, plan_key, _settings(type("P", (), {"url": "http://127.0.0.1:9"})()), Tasks()
    )
    healthy = execution.run_message("m-h", _compensate("c-healthy", "k"), ctx)
    assert healthy.error["code"] == "COMPENSATION_REFUSED"
    assert _events("c-healthy")[-1]["type"] == "compensation.rejected"
    assert cases.case_view("c-healthy")["status"] == "SUCCEEDED"
    unknown = execution.run_message("m-u", _compensate("c-nowhere", "k"), ctx)
    assert unknown.error["code"] == "COMPENSATION_REFUSED"
    assert (
        LedgerItem.get("REJECTION#m-u", "REJECTION").data["reason"]["code"]
        == "COMPENSATION_REFUSED"
    )


def test_an_action_item_marked_applied_by_another_plane_is_not_taken_for_applied(
    decided, kms, plan_key, peer
) -> None:
    """A decision-plane role may write the action item (CASE# partition) but not the execution
    plane's applied record (APPLIED#, see tests/infra/test_least_privilege.py): an action item
    set to APPLIED with a made-up result is refused, not answered with that result."""
    case_id, out = decided
    index = out["actions"][0]["index"]
    LedgerItem(case_pk(case_id), action_sk(index)).update(
        actions=[LedgerItem.status.set("APPLIED"), LedgerItem.result.set({"forged": True})]
    )
    tasks = Tasks("genuine-token")
    outcome = execution.run_message(
        "m-applied", _body(out, "genuine-token"), _context(kms, plan_key, _settings(peer), tasks)
    )
    assert outcome.kind == "rejected" and outcome.error["code"] == "ACTION_NOT_RUNNABLE"
    assert "no applied record" in outcome.error["message"]
    assert peer.requests == []
    assert ("genuine-token", "success") not in tasks.answers


def test_an_applied_action_has_the_execution_planes_applied_record(
    decided, kms, plan_key, peer
) -> None:
    from aios.ledger import get_applied

    case_id, out = decided
    action = out["actions"][0]
    ctx = _context(kms, plan_key, _settings(peer), Tasks("t-1", "t-2"))
    assert execution.run_message("m-a", _body(out, "t-1"), ctx).kind == "applied"
    record = get_applied(action["action_id"])
    assert record is not None and record.case_id == case_id
    assert record.digest == action["digest"]
    again = execution.run_message("m-b", _body(out, "t-2"), ctx)  # a redelivery
    assert again.kind == "applied" and again.result == record.result
    assert len(peer.requests) == 1
