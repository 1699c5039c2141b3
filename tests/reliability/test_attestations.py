"""Signed attestations at the execution plane (issue 15, item 2): a row written into a table is
never enough to make an action runnable; an attestation signed with a key of the wrong kind is
refused and recorded; a valid approval and an auto action run; and the execution plane makes
no KMS call per action (none at all with pinned keys, as it runs in another account)."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from aios import approvals, aws, cases, execution
from aios.attestations import AttestationClaim, sign_attestation
from aios.execution import ExecutionContext
from aios.keyring import Keyring, TrustedKeys, kms_fetch, pins
from aios.ledger import LedgerItem, action_sk, case_pk
from aios.outcomes import record_outcomes
from aios.settings import load_settings
from aios.specs import get_spec

from tests.conftest import keyring_of
from tests.reliability.test_constraints import _case, _decide, _refund_of
from tests.reliability.test_execution_plane import _settings
from tests.reliability.test_queue_forgery import Tasks


class CountingKms:
    """The emulated KMS client, counting every call the execution plane makes on it."""

    def __init__(self, kms: Any) -> None:
        self._kms = kms
        self.calls: list[str] = []

    def get_public_key(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append("GetPublicKey")
        return dict(self._kms.get_public_key(**kwargs))

    def sign(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append("Sign")
        return dict(self._kms.sign(**kwargs))


class Answers(Tasks):
    """Tasks that keep the outputs they were answered with."""

    def __init__(self, *live: str) -> None:
        super().__init__(*live)
        self.outputs: list[dict[str, Any]] = []

    def succeed(self, token: str, output: dict[str, Any]) -> bool:
        self.outputs.append(output)
        return super().succeed(token, output)


def _context(keyring: Keyring, settings: Any, tasks: Tasks) -> ExecutionContext:
    run_once, _ = execution.idempotent_runner("idempotency")
    return ExecutionContext(
        settings=settings,
        keyring=keyring,
        run_once=run_once,
        succeed_task=tasks.succeed,
        fail_task=tasks.fail,
    )


def _body(out: dict[str, Any], action: dict[str, Any], attestation: Any, **extra: Any) -> str:
    message = {"task_token": "token", "plan": out["plan"], "action": action, **extra}
    return json.dumps({**message, "attestation": attestation})


def _events(case_id: str) -> list[dict[str, Any]]:
    return list(cases.audit_view(case_id)["events"])


def _status(case_id: str, index: int) -> str:
    return str(LedgerItem.get(case_pk(case_id), action_sk(index)).status)


def _approved(ledger_case: str, action: dict[str, Any]) -> dict[str, Any]:
    """Open the action's approval and let the finance lead approve it: the signed attestation."""
    approvals.open_approval(ledger_case, action["action_id"], action["index"])
    decided = approvals.decide(action["action_id"], "finance-lead", "approve")
    assert decided.status == "APPROVED" and decided.attestation is not None
    return decided.attestation


def test_an_unsigned_attestation_in_the_ledger_and_the_message_is_refused_and_recorded(
    ledger, decision_table, kms, plan_key, peer
) -> None:
    case = _case(amount=120)
    out = _decide(case, _refund_of(120), kms, plan_key)
    [action] = out["actions"]
    assert action["gate"] == "approve"
    item = LedgerItem.get(case_pk(case.case_id), action_sk(0))
    forged = {"type": "human", "approvers": ["finance-lead"], "digest": action["digest"]}
    item.update(
        actions=[
            LedgerItem.status.set("APPROVED"),
            LedgerItem.data.set({**item.data, "attestation": forged}),
        ]
    )
    tasks = Tasks("token")
    ctx = _context(keyring_of(kms, plan_key), _settings(peer), tasks)
    unsigned = execution.run_message("m-1", _body(out, action, None), ctx)
    assert unsigned.kind == "rejected" and unsigned.error["code"] == "ATTESTATION_MISSING"
    # The same claim with a made-up signature, as someone with ledger write would carry it.
    claim = AttestationClaim(
        type="human",
        case_id=case.case_id,
        plan_id=out["plan"]["envelope"]["plan_id"],
        action_digests=(action["digest"],),
        spec=get_spec("refund-request").ref,
        approvers=("finance-lead",),
        quorum=1,
        issued_at="2026-12-01T00:00:00+00:00",
        key_id=os.environ["AIOS_HUMAN_KEY_ID"],
    )
    made_up = {"claim": claim.model_dump(mode="json"), "signature": "MEUCIQDy"}
    tasks.live.add("token")
    forged_out = execution.run_message("m-2", _body(out, action, made_up), ctx)
    assert forged_out.kind == "rejected" and forged_out.error["code"] == "ATTESTATION_INVALID"
    assert peer.requests == []
    rejected = [e for e in _events(case.case_id) if e["type"] == "action.rejected"]
    assert [e["data"]["code"] for e in rejected] == ["ATTESTATION_MISSING", "ATTESTATION_INVALID"]


def test_a_human_attestation_signed_with_the_policy_key_is_refused(
    ledger, decision_table, kms, plan_key, peer
) -> None:
    case = _case(amount=120)
    out = _decide(case, _refund_of(120), kms, plan_key)
    [action] = out["actions"]
    signed = _approved(case.case_id, action)
    claim = AttestationClaim.model_validate(
        {**signed["claim"], "key_id": os.environ["AIOS_POLICY_KEY_ID"]}
    )
    wrong_key = sign_attestation(kms, claim).model_dump(mode="json")
    plan_keyed = sign_attestation(kms, claim.model_copy(update={"key_id": plan_key}))
    tasks = Tasks("token")
    ctx = _context(keyring_of(kms, plan_key), _settings(peer), tasks)
    for attestation in (wrong_key, plan_keyed.model_dump(mode="json")):
        tasks.live.add("token")
        outcome = execution.run_message("m-1", _body(out, action, attestation), ctx)
        assert outcome.kind == "rejected" and outcome.error["code"] == "ATTESTATION_INVALID"
        assert "not trusted for human" in outcome.error["message"]
    assert peer.requests == []
    assert _events(case.case_id)[-1]["data"]["code"] == "ATTESTATION_INVALID"


def test_an_approved_action_runs_with_its_signed_human_attestation(
    ledger, decision_table, kms, plan_key, peer
) -> None:
    case = _case(amount=120)
    out = _decide(case, _refund_of(120), kms, plan_key)
    [action] = out["actions"]
    signed = _approved(case.case_id, action)
    assert signed["claim"]["approvers"] == ["finance-lead"]
    item = LedgerItem.get(case_pk(case.case_id), action_sk(0))
    assert item.data["attestation"]["signed"] == signed  # written to the ledger as well
    tasks = Tasks("token")
    ctx = _context(keyring_of(kms, plan_key), _settings(peer), tasks)
    outcome = execution.run_message("m-1", _body(out, action, signed), ctx)
    assert outcome.kind == "applied", outcome.error
    assert len(peer.requests) == 1
    assert _status(case.case_id, 0) == "APPLIED"
    applied = [e for e in _events(case.case_id) if e["type"] == "action.applied"]
    assert applied[-1]["data"]["rules"][0].startswith("approval refund-over-50 by finance-lead")


def test_an_auto_action_runs_with_the_plans_one_policy_attestation(
    ledger, decision_table, kms, plan_key, peer
) -> None:
    case = _case(amount=20)
    out = _decide(case, _refund_of(20), kms, plan_key)
    [action] = out["actions"]
    assert action["gate"] == "auto"
    claim = out["attestation"]["claim"]
    assert claim["type"] == "policy" and claim["action_digests"] == [action["digest"]]
    tasks = Tasks("token")
    ctx = _context(keyring_of(kms, plan_key), _settings(peer), tasks)
    outcome = execution.run_message("m-1", _body(out, action, out["attestation"]), ctx)
    assert outcome.kind == "applied", outcome.error
    assert _status(case.case_id, 0) == "APPLIED"


def test_the_execution_plane_on_its_own_runs_an_action_with_no_kms_call_and_no_ledger_read(
    ledger, decision_table, kms, plan_key, peer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pinned keys, `AIOS_DECISION_LEDGER=false`: verification reads nothing of the decision
    ledger (the case input travels with the message), KMS is never called, and the outcome
    reaches the case's audit chain through the task answer (Finalize's record_outcomes)."""
    counting = CountingKms(kms)
    trusted = TrustedKeys.model_validate(
        pins(
            counting,
            {
                "plan": [plan_key],
                "policy": [os.environ["AIOS_POLICY_KEY_ID"]],
                "human": [os.environ["AIOS_HUMAN_KEY_ID"]],
            },
        )
    )
    cases_out = []
    for amount in (20, 30, 40):
        case = _case(amount=amount)
        cases_out.append((case, _decide(case, _refund_of(amount), kms, plan_key)))
    counting.calls.clear()

    def no_kms(service: str) -> Any:
        assert service != "kms", "the execution plane called KMS"
        return original(service)

    original = aws.client
    monkeypatch.setattr(aws, "client", no_kms)
    base = _settings(peer)
    settings = load_settings(
        {
            "AIOS_LEDGER_TABLE": "ledger",
            "AIOS_HTTP_TARGETS": json.dumps(base.http_targets),
            "AIOS_HTTP_SECRET_ARN": base.http_secret_arn,
            "AIOS_TRUSTED_KEYS": trusted.model_dump_json(),
            "AIOS_DECISION_LEDGER": "false",
        }
    )
    keyring = Keyring(settings.trusted_keys or TrustedKeys(), kms_fetch(counting))
    tasks = Answers()
    ctx = _context(keyring, settings, tasks)
    for n, (case, out) in enumerate(cases_out):
        [action] = out["actions"]
        tasks.live.add("token")
        body = _body(out, action, out["attestation"], input=case.input)
        outcome = execution.run_message(f"m-{n}", body, ctx)
        assert outcome.kind == "applied", outcome.error
        # Not recorded on the case by the execution plane: it has no decision ledger.
        assert _status(case.case_id, 0) == "APPROVED"
        answer = tasks.outputs[-1]
        assert answer["recorded"] is False and answer["digest"] == action["digest"]
        assert record_outcomes(case.case_id, [answer]) == [action["action_id"]]
        assert record_outcomes(case.case_id, [answer]) == []  # once
        assert _status(case.case_id, 0) == "APPLIED"
        assert _events(case.case_id)[-1]["type"] == "action.applied"
    assert counting.calls == []  # zero KMS calls for three actions
    assert keyring.fetches == 2  # the plan and policy public keys, loaded once each


def test_the_execution_plane_on_its_own_refuses_a_message_without_the_case_input(
    ledger, decision_table, kms, plan_key, peer
) -> None:
    case = _case(amount=20)
    out = _decide(case, _refund_of(20), kms, plan_key)
    [action] = out["actions"]
    base = _settings(peer)
    settings = base.model_copy(update={"decision_ledger": False})
    tasks = Tasks("token")
    ctx = _context(keyring_of(kms, plan_key), settings, tasks)
    altered = {**case.input, "amount": 45}
    for extra, code in (({}, "INPUT_MISMATCH"), ({"input": altered}, "INPUT_MISMATCH")):
        tasks.live.add("token")
        outcome = execution.run_message("m-1", _body(out, action, out["attestation"], **extra), ctx)
        assert outcome.kind == "rejected" and outcome.error["code"] == code
    assert peer.requests == []
