"""Guarantees 1-4 at the domain level: idempotent submit, at-most-once effects, verification
before application, and a complete audit chain. Everything real but the AWS emulator."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aios import cases, execution
from aios.errors import (
    AttestationMissing,
    CapabilityNotAllowed,
    IdempotencyConflict,
    InvalidInput,
    InvalidParams,
    NotInPlan,
    PlanExpired,
    RetryableActionError,
    SignatureInvalid,
    TerminalActionError,
    WrongCase,
)
from aios.ledger import LedgerItem, action_sk, case_pk
from aios.planning import CaseInput, decide_case
from aios.plans import ActionMessage
from aios.providers import get_provider
from aios.settings import load_settings
from aios.signing import digest
from aios.specs import get_spec

from tests.conftest import keyring_of

SPEC = get_spec("ticket-triage")


def _message(out: dict[str, Any], **action_changes: Any) -> ActionMessage:
    action = {**out["actions"][0], **action_changes}
    return ActionMessage.model_validate(
        {
            "task_token": "token",
            "plan": out["plan"],
            "action": action,
            "attestation": out["attestation"],
        }
    )


TARGETS = {
    "AIOS_LEDGER_TABLE": "ledger",
    "AIOS_HTTP_TARGETS": json.dumps({"helpdesk": "http://127.0.0.1:9"}),
}


def _verify(kms, plan_key, message: ActionMessage, now: datetime | None = None, env=TARGETS):
    return execution.verify_action(
        message,
        keyring=keyring_of(kms, plan_key),
        settings=load_settings(env),
        now=now,
    )


def _settings(peer) -> Any:
    import boto3

    if not getattr(peer, "secret_arn", None):
        peer.secret_arn = boto3.client("secretsmanager").create_secret(
            Name="aios/http-targets", SecretString=json.dumps({"helpdesk": "s3cret"})
        )["ARN"]
    arn = peer.secret_arn
    return load_settings(
        {
            "AIOS_LEDGER_TABLE": "ledger",
            "AIOS_HTTP_TARGETS": json.dumps({"helpdesk": peer.url}),
            "AIOS_HTTP_SECRET_ARN": arn,
        }
    )


def _events(case_id: str) -> list[str]:
    return [e["type"] for e in cases.audit_view(case_id)["events"]]


def test_same_idempotency_key_and_body_returns_the_same_case_and_starts_it_by_name(ledger) -> None:
    started: list[str] = []
    body = json.dumps(SPEC.example_input)
    first = cases.submit_case(
        "ticket-triage",
        body,
        tenant="t",
        idempotency_key="k-1",
        start_execution=lambda c, _: started.append(c),
    )
    again = cases.submit_case(
        "ticket-triage",
        body,
        tenant="t",
        idempotency_key="k-1",
        start_execution=lambda c, _: started.append(c),
    )
    assert first["case_id"] == again["case_id"]
    assert started == [first["case_id"], first["case_id"]]  # Step Functions dedupes by name
    assert _events(first["case_id"]) == ["case.received"]


def test_same_idempotency_key_with_another_body_is_a_conflict(ledger) -> None:
    body = dict(SPEC.example_input)
    cases.submit_case(
        "ticket-triage",
        json.dumps(body),
        tenant="t",
        idempotency_key="k-2",
        start_execution=lambda *_: None,
    )
    body["subject"] = "something else"
    with pytest.raises(IdempotencyConflict):
        cases.submit_case(
            "ticket-triage",
            json.dumps(body),
            tenant="t",
            idempotency_key="k-2",
            start_execution=lambda *_: None,
        )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("{not json", "<body>"),
        ("[]", "<body>"),
        (json.dumps({**SPEC.example_input, "ticket_id": "X"}), "ticket_id"),
        (json.dumps({k: v for k, v in SPEC.example_input.items() if k != "subject"}), "subject"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(
    ledger, body: str, field: str
) -> None:
    with pytest.raises(InvalidInput) as info:
        cases.submit_case(
            "ticket-triage",
            body,
            tenant="t",
            idempotency_key="k-3",
            start_execution=lambda *_: pytest.fail("started"),
        )
    assert info.value.details["field"] == field
    assert list(LedgerItem.scan()) == []


def test_action_applies_once_under_redelivery_and_is_audited(decided, kms, plan_key, peer) -> None:
    case_id, out = decided
    run_once, _ = execution.idempotent_runner("idempotency")
    for _ in range(3):
        verified = _verify(kms, plan_key, _message(out))
        result = execution.apply_action(verified, _settings(peer), run_once)
        assert result["status"] == 200
    assert len(peer.requests) == 1
    assert peer.requests[0]["key"] == out["actions"][0]["action_id"]
    assert _events(case_id).count("action.applied") == 1
    from aios.capabilities.http_post import sign_body

    sent = peer.requests[0]
    assert sent["signature"] == sign_body("s3cret", sent["timestamp"], sent["raw"])
    assert cases.audit_view(case_id)["chain"]["valid"]


def test_crash_after_the_outside_call_does_not_call_again(decided, kms, plan_key, peer) -> None:
    case_id, out = decided
    run_once, _ = execution.idempotent_runner("idempotency")
    verified = _verify(kms, plan_key, _message(out))
    action = out["actions"][0]
    ctx = execution.ActionContext(case_id, action["action_id"], "e", _settings(peer))
    run_once(
        action["action_id"],
        action["digest"],
        lambda: verified.capability.execute(verified.params, ctx),
    )
    # The ledger write never happened (the crash); redelivery applies from the idempotency record.
    execution.apply_action(verified, _settings(peer), run_once)
    assert len(peer.requests) == 1
    assert (
        LedgerItem.get(case_pk(case_id), action_sk(out["actions"][0]["index"])).status == "APPLIED"
    )


def test_retryable_failure_leaves_the_action_runnable(decided, kms, plan_key, peer) -> None:
    case_id, out = decided
    peer.fail_next = [503]
    run_once, _ = execution.idempotent_runner("idempotency")
    verified = _verify(kms, plan_key, _message(out))
    with pytest.raises(RetryableActionError):
        execution.apply_action(verified, _settings(peer), run_once)
    assert (
        LedgerItem.get(case_pk(case_id), action_sk(out["actions"][0]["index"])).status == "APPROVED"
    )
    execution.apply_action(verified, _settings(peer), run_once)
    assert [r["key"] for r in peer.requests] == [out["actions"][0]["action_id"]] * 2


def test_terminal_failure_is_classified(decided, kms, plan_key, peer) -> None:
    _, out = decided
    peer.fail_next = [422]
    run_once, _ = execution.idempotent_runner("idempotency")
    with pytest.raises(TerminalActionError):
        execution.apply_action(_verify(kms, plan_key, _message(out)), _settings(peer), run_once)


def test_tampered_params_are_rejected(decided, kms, plan_key) -> None:
    _, out = decided
    params = {**out["actions"][0]["params"], "path": "/tickets/T-9/refund"}
    with pytest.raises(NotInPlan):
        _verify(kms, plan_key, _message(out, params=params))


def test_tampered_params_with_a_recomputed_digest_are_rejected(decided, kms, plan_key) -> None:
    _, out = decided
    action = {**out["actions"][0], "params": {**out["actions"][0]["params"], "path": "/x"}}
    spec_fields = {k: v for k, v in action.items() if k not in ("gate", "digest")}
    action["digest"] = digest(spec_fields)
    with pytest.raises(NotInPlan):
        _verify(kms, plan_key, _message(out, **action))


def test_forged_envelope_is_rejected(decided, kms, plan_key) -> None:
    _, out = decided
    plan = json.loads(json.dumps(out["plan"]))
    plan["envelope"]["expires_at"] = "2099-01-01T00:00:00+00:00"
    message = ActionMessage.model_validate(
        {"task_token": "t", "plan": plan, "action": out["actions"][0]}
    )
    with pytest.raises(SignatureInvalid):
        _verify(kms, plan_key, message)


def test_expired_plan_is_rejected(decided, kms, plan_key) -> None:
    _, out = decided
    with pytest.raises(PlanExpired):
        _verify(kms, plan_key, _message(out), now=datetime.now(UTC) + timedelta(hours=1))


def test_action_replayed_into_another_case_is_rejected(decided, kms, plan_key) -> None:
    _, out = decided
    with pytest.raises(WrongCase):
        _verify(kms, plan_key, _message(out, case_id="c-other"))


def test_capability_outside_the_process_is_rejected(decided, kms, plan_key, monkeypatch) -> None:
    _, out = decided
    monkeypatch.setattr(SPEC.__class__, "allowed", property(lambda self: frozenset({"email.send"})))
    with pytest.raises(CapabilityNotAllowed):
        _verify(kms, plan_key, _message(out))


def test_action_without_a_signed_attestation_is_rejected_whatever_the_ledger_row_says(
    decided, kms, plan_key
) -> None:
    case_id, out = decided
    item = LedgerItem.get(case_pk(case_id), action_sk(out["actions"][0]["index"]))
    assert item.data["attestation"]["type"] == "policy"  # the ledger row is there, APPROVED
    with pytest.raises(AttestationMissing):
        _verify(kms, plan_key, _message({**out, "attestation": None}))


def test_rejection_is_recorded_with_its_reason(decided, kms, plan_key) -> None:
    case_id, out = decided
    try:
        _verify(kms, plan_key, _message(out), now=datetime.now(UTC) + timedelta(hours=1))
    except PlanExpired as exc:
        action = out["actions"][0]
        assert execution.record_outcome(
            case_id, action["index"], action["action_id"], "REJECTED", exc.to_dict()
        )
    audit = cases.audit_view(case_id)
    assert audit["events"][-1]["type"] == "action.rejected"
    assert audit["events"][-1]["data"]["code"] == "PLAN_EXPIRED"
    assert (
        LedgerItem.get(case_pk(case_id), action_sk(out["actions"][0]["index"])).status == "REJECTED"
    )
    assert audit["chain"]["valid"]


def test_invalid_params_are_rejected_even_when_signed(kms, plan_key, ledger) -> None:
    from aios.capabilities import get_capability

    with pytest.raises(InvalidParams, match="path"):
        get_capability("http.post").validate_params(
            {"target": "helpdesk", "path": "//evil.example/x", "body": {}}
        )


def test_edited_audit_event_is_detected(decided) -> None:
    case_id, _ = decided
    item = LedgerItem.get(case_pk(case_id), "AUDIT#0000000002")
    item.update(actions=[LedgerItem.data.set({"edited": True})])
    chain = cases.audit_view(case_id)["chain"]
    assert not chain["valid"] and chain["seq"] == 2


def test_decide_is_idempotent_per_case(decided, kms, plan_key) -> None:
    case_id, out = decided
    case = cases.case_view(case_id)
    again = decide_case(
        CaseInput(case_id=case_id, tenant="t1", process="ticket-triage", input=case["input"]),
        provider=get_provider("offline"),
        kms=kms,
        key_id=plan_key,
        ttl_seconds=600,
    )
    assert sorted(
        again.model_dump(mode="json", by_alias=True)["actions"], key=lambda a: a["index"]
    ) == sorted(out["actions"], key=lambda a: a["index"])
    assert again.plan.model_dump(mode="json") == out["plan"]


def test_failure_is_recorded_once_with_its_reason_and_what_was_undone(decided) -> None:
    case_id, _ = decided
    error = {"Error": "Aios.ActionFailed", "Cause": '{"errorMessage": "boom"}'}
    assert cases.finalize_case(case_id, "COMPENSATING", error) == "COMPENSATING"
    assert cases.finalize_case(case_id, "COMPENSATING", error) == "COMPENSATING"
    assert (
        cases.finalize_case(
            case_id, "FAILED", compensation={"compensated": ["a"], "not_compensable": []}
        )
        == "FAILED"
    )
    assert cases.finalize_case(case_id, "SUCCEEDED") == "FAILED"
    view = cases.case_view(case_id)
    assert view["error"] == {
        "error": "Aios.ActionFailed",
        "cause": {"type": None, "message": "boom"},
    }
    assert view["compensation"] == {"compensated": ["a"], "not_compensable": []}
    assert (
        _events(case_id).count("case.failed") == 1
        and _events(case_id).count("case.compensating") == 1
    )


def test_host_not_on_the_allow_list_is_rejected_before_anything_is_sent(
    decided, kms, plan_key, peer
) -> None:
    from aios.errors import HostNotAllowed

    _, out = decided
    with pytest.raises(HostNotAllowed):
        _verify(
            kms,
            plan_key,
            _message(out),
            env={"AIOS_LEDGER_TABLE": "ledger", "AIOS_HTTP_TARGETS": "{}"},
        )
    assert peer.requests == []


def test_a_replan_is_idempotent_per_round_and_supersedes_the_earlier_plan(
    decided, kms, plan_key
) -> None:
    case_id, first = decided
    case = CaseInput.model_validate({
        "case_id": case_id, "tenant": "t1", "process": "ticket-triage", "input": SPEC.example_input,
        "revision": {"round": 1, "comment": "post the triage only"},
    })  # fmt: skip
    provider = get_provider("offline")
    replan = decide_case(case, provider=provider, kms=kms, key_id=plan_key, ttl_seconds=600)
    again = decide_case(case, provider=provider, kms=kms, key_id=plan_key, ttl_seconds=600)
    assert replan.plan is not None and replan.plan.envelope.plan_id == f"{case_id}.p2"
    assert again.model_dump() == replan.model_dump()  # a retried Decide signs nothing new
    new = replan.model_dump(mode="json", by_alias=True)
    assert [a["index"] for a in new["actions"]] == [2, 3]  # numbered after the earlier actions
    statuses = {i.sk: i.status for i in LedgerItem.query(case_pk(case_id))}
    assert statuses[f"PLAN#{case_id}.p1"] == "SUPERSEDED"
    assert statuses[f"PLAN#{case_id}.p2"] == "SIGNED"
    assert {statuses[action_sk(i)] for i in (0, 1)} == {"SUPERSEDED"}
    events = _events(case_id)
    assert events.count("plan.superseded") == 1 and events.count("action.superseded") == 2
    # A new action verifies under its own plan; an old one never under the new plan.
    auto = next(a for a in new["actions"] if a["gate"] == "auto")
    message = ActionMessage.model_validate(
        {"task_token": "t", "plan": new["plan"], "action": auto, "attestation": new["attestation"]}
    )
    assert _verify(kms, plan_key, message).message.action.action_id == auto["action_id"]
    forged = {"task_token": "t", "plan": new["plan"], "action": first["actions"][0]}
    with pytest.raises(WrongCase):
        _verify(kms, plan_key, ActionMessage.model_validate(forged))
