"""Large action bodies travel as claim checks (`aios.bodies`): Decide stores them before the
plan is recorded, the signed digest still covers the content, and Execute fetches and verifies
the body before anything else. A forged claim (digest mismatch) or a missing body is refused
and recorded, and changes nothing outside. Domain level: the real decision tree over moto."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import boto3
import pytest
from aios import bodies, cases, execution
from aios.memory.context import CLAIM
from aios.plans import PlannedAction

from tests.reliability.test_execution_plane import _settings
from tests.reliability.test_queue_forgery import Tasks, _context, _status

BUCKET = "aios-context"


@pytest.fixture
def store(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AIOS_CONTEXT_BUCKET", BUCKET)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    return s3


def _claimed(out: dict[str, Any], s3: Any) -> dict[str, Any]:
    """The decision's first action as a claim check (stored, threshold 0)."""
    action = PlannedAction.model_validate(out["actions"][0])
    claimed = bodies.check_in(action, s3=s3, bucket=BUCKET, inline_max=0)
    assert set(claimed.params) == {CLAIM}
    return claimed.model_dump(mode="json", by_alias=True)


def _message(out: dict[str, Any], action: dict[str, Any], token: str) -> str:
    return json.dumps(
        {
            "task_token": token,
            "plan": out["plan"],
            "action": action,
            "attestation": out["attestation"],
        }
    )


def test_a_claim_checked_action_is_redeemed_verified_and_applied_once(
    store, decided, kms, plan_key, peer
) -> None:
    _case_id, out = decided
    action = _claimed(out, store)
    tasks = Tasks("genuine")
    outcome = execution.run_message(
        "m-1", _message(out, action, "genuine"), _context(kms, plan_key, _settings(peer), tasks)
    )
    assert outcome.kind == "applied" and outcome.answered
    assert len(peer.requests) == 1
    assert peer.requests[0]["body"] == out["actions"][0]["params"]["body"]


def test_a_forged_claim_whose_body_does_not_match_its_digest_is_refused_and_recorded(
    store, decided, kms, plan_key, peer
) -> None:
    case_id, out = decided
    action = _claimed(out, store)
    key = action["params"][CLAIM]["key"]
    forged = {**out["actions"][0]["params"], "path": "/tickets/T-9/refund"}
    store.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(forged).encode())
    tasks = Tasks()
    ctx = _context(kms, plan_key, _settings(peer), tasks)
    outcome = execution.run_message("m-2", _message(out, action, "forged-token"), ctx)
    assert outcome.kind == "rejected" and outcome.error["code"] == "CLAIM_INVALID"
    assert "does not match its digest" in outcome.error["message"]
    assert peer.requests == []
    assert _status(case_id, out["actions"][0]["index"]) == "APPROVED"
    last = cases.audit_view(case_id)["events"][-1]
    assert last["type"] == "action.rejected" and last["data"]["code"] == "CLAIM_INVALID"


def test_a_claim_to_a_missing_body_or_outside_the_store_is_refused(
    store, decided, kms, plan_key, peer
) -> None:
    _case_id, out = decided
    action = _claimed(out, store)
    ctx = _context(kms, plan_key, _settings(peer), Tasks())
    sha = hashlib.sha256(b"nothing stored").hexdigest()
    missing = {CLAIM: {**action["params"][CLAIM], "sha256": sha, "key": bodies.body_key(sha)}}
    elsewhere = {CLAIM: {**action["params"][CLAIM], "bucket": "attacker-bucket"}}
    for params in (missing, elsewhere):
        outcome = execution.run_message(
            "m-3", _message(out, {**action, "params": params}, "x"), ctx
        )
        assert outcome.error["code"] == "CLAIM_INVALID"
    assert peer.requests == []


def test_a_claim_with_a_matching_body_the_plan_did_not_sign_is_not_in_the_plan(
    store, decided, kms, plan_key, peer
) -> None:
    """The attacker stores their own body under its own digest: it redeems, but the action's
    digest (over the real params) is not the one the signed plan lists."""
    _case_id, out = decided
    forged = PlannedAction.model_validate(
        {
            **out["actions"][0],
            "params": {**out["actions"][0]["params"], "path": "/tickets/T-9/refund"},
        }
    )
    claimed = bodies.check_in(forged, s3=store, bucket=BUCKET, inline_max=0)
    ctx = _context(kms, plan_key, _settings(peer), Tasks())
    body = _message(out, claimed.model_dump(mode="json", by_alias=True), "x")
    outcome = execution.run_message("m-4", body, ctx)
    assert outcome.error["code"] == "ACTION_NOT_IN_PLAN"
    assert peer.requests == []


def test_decide_checks_in_large_params_before_recording_and_the_plan_signs_the_real_ones(
    store, ledger, kms, plan_key, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aios.planning import CaseInput, decide_case
    from aios.providers import get_provider
    from aios.specs import get_spec

    monkeypatch.setenv("AIOS_BODY_INLINE_MAX_BYTES", "64")
    started: list[tuple[str, dict[str, Any]]] = []
    cases.submit_case(
        "ticket-triage",
        json.dumps(get_spec("ticket-triage").example_input),
        tenant="t1",
        idempotency_key=None,
        start_execution=lambda cid, inp: started.append((cid, inp)),
    )
    decision = decide_case(
        CaseInput(**started[0][1]),
        provider=get_provider("offline"),
        kms=kms,
        key_id=plan_key,
        ttl_seconds=600,
    )
    claimed = [a for a in decision.actions if set(a.params) == {CLAIM}]
    assert claimed, "params over the threshold leave Decide as claim checks"
    for action in claimed:
        real = bodies.redeem(action, s3=store, bucket=BUCKET)
        assert real.spec().digest() == action.digest_hex  # the signature covers the content
        assert decision.plan is not None
        assert decision.plan.envelope.action_digests[action.index] == action.digest_hex
    assert len(json.dumps(decision.model_dump(mode="json", by_alias=True))) < 64 * 1024


def test_a_large_task_result_is_named_by_digest_not_carried() -> None:
    small = {"ok": True}
    assert bodies.task_result(small) == small
    large = {"text": "x" * 20_000}
    named = bodies.task_result(large)
    assert set(named) == {"$ledger"} and named["$ledger"]["bytes"] > 20_000
