"""The execution reconciler against the ledger, Step Functions and SQS (moto, in-process): each
stuck kind injected and found, each finding and repair recorded once however often it runs,
and nothing done to a case that is healthy."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from aios import approvals
from aios.capabilities import get_capability
from aios.cases import finalize_case
from aios.ledger import (
    LedgerItem,
    Put,
    commit,
    create_case,
    get_action,
    get_case,
    load_audit,
    transition_case,
)
from aios.reconciler import reconcile
from aios.settings import Settings


def now(plus: timedelta = timedelta()) -> datetime:
    return datetime.now(UTC) + plus


LATER = timedelta(days=2)  # past every grace period and SLA below


@pytest.fixture
def env(ledger: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A state machine whose executions stay RUNNING (moto runs no ASL here, even after the
    emulation turned it on for the process) and a FIFO DLQ."""
    from moto.core.config import default_user_config

    monkeypatch.setitem(default_user_config, "stepfunctions", {"execute_state_machine": False})
    sfn = boto3.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="cases",
        definition=json.dumps(
            {"StartAt": "Wait", "States": {"Wait": {"Type": "Pass", "End": True}}}
        ),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]
    dlq = boto3.client("sqs").create_queue(QueueName="dlq.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    settings = Settings.model_validate(
        {
            "AIOS_LEDGER_TABLE": ledger,
            "AIOS_STATE_MACHINE_ARN": machine,
            "AIOS_ACTION_DLQ_URL": dlq,
        }
    )
    return {"sfn": sfn, "machine": machine, "dlq": dlq, "settings": settings}


def run(env: dict[str, Any], later: timedelta = LATER) -> dict[str, list[Any]]:
    """One reconciler run, `later` from now."""
    report = reconcile(env["settings"], now(later))
    found: dict[str, list[Any]] = {}
    for finding in report.findings:
        found.setdefault(finding.kind, []).append(finding)
    return found


def new_case(case_id: str, process: str = "ticket-triage", status: str = "RECEIVED") -> None:
    create_case(
        case_id,
        status,
        {"process": process, "tenant": "t1", "input": {"ticket_id": "T-1"}},
        [("case.received", {"process": process})],
    )


def start(env: dict[str, Any], case_id: str) -> str:
    return env["sfn"].start_execution(stateMachineArn=env["machine"], name=case_id, input="{}")[
        "executionArn"
    ]


def findings_on(case_id: str) -> list[dict[str, Any]]:
    return [e.data for e in load_audit(case_id) if e.type == "reconciler.finding"]


def test_a_received_case_without_an_execution_is_started_once(env: dict[str, Any]) -> None:
    new_case("c-lost")
    assert (
        run(env, timedelta()) == {}
    )  # within the grace period: the api function may be starting it
    found = run(env)["received_without_execution"]
    assert [(f.case_id, f.repair, f.recorded) for f in found] == [("c-lost", "started", True)]
    executions = env["sfn"].list_executions(stateMachineArn=env["machine"])["executions"]
    assert [e["name"] for e in executions] == ["c-lost"]
    assert run(env) == {}  # it has an execution now
    assert len(findings_on("c-lost")) == 1 and get_case("c-lost").status == "RECEIVED"


def test_an_execution_that_ended_fails_its_running_case_once(env: dict[str, Any]) -> None:
    new_case("c-ended")
    transition_case(
        "c-ended", [("case.running", {})], to_status="RUNNING", from_statuses=["RECEIVED"]
    )
    new_case("c-healthy")
    transition_case(
        "c-healthy", [("case.running", {})], to_status="RUNNING", from_statuses=["RECEIVED"]
    )
    env["sfn"].stop_execution(executionArn=start(env, "c-ended"))
    start(env, "c-healthy")
    [ended] = run(env)["execution_ended"]
    assert (ended.case_id, ended.repair, ended.recorded) == ("c-ended", "case failed", True)
    case = get_case("c-ended")
    assert case.status == "FAILED"
    assert case.data["error"]["error"] == "Aios.ExecutionEnded"
    assert case.data["error"]["cause"]["execution_status"] == "ABORTED"
    assert [e.type for e in load_audit("c-ended")][-2:] == ["reconciler.finding", "case.failed"]
    assert run(env) == {}
    assert get_case("c-healthy").status == "RUNNING" and findings_on("c-healthy") == []


def test_a_succeeded_execution_whose_success_event_never_landed_succeeds_its_case_once(
    env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The case's SUCCEEDED is recorded on the execution's status change (EventBridge); when
    that never lands, the reconciler records it, once; a case a person closed is left as is."""
    from aios.reconciler import executions

    for case_id in ("c-done", "c-resolved"):
        new_case(case_id)
        transition_case(
            case_id, [("case.running", {})], to_status="RUNNING", from_statuses=["RECEIVED"]
        )
        start(env, case_id)
    transition_case(
        "c-resolved", [("case.handed_off", {})], to_status="HANDED_OFF", from_statuses=["RUNNING"]
    )
    transition_case(
        "c-resolved", [("case.resolved", {})], to_status="RESOLVED", from_statuses=["HANDED_OFF"]
    )
    # moto runs no ASL here: its executions stay RUNNING, so the execution is read as ended.
    monkeypatch.setattr(
        executions, "describe", lambda _arn, _case: executions.Execution("SUCCEEDED", None)
    )
    [ended] = run(env)["execution_ended"]
    assert (ended.case_id, ended.repair, ended.recorded) == ("c-done", "case succeeded", True)
    assert get_case("c-done").status == "SUCCEEDED"
    assert [e.type for e in load_audit("c-done")][-2:] == ["reconciler.finding", "case.succeeded"]
    assert finalize_case("c-done", "SUCCEEDED") == "SUCCEEDED"  # the late event writes nothing
    assert [e.type for e in load_audit("c-done")].count("case.succeeded") == 1
    assert run(env) == {}
    assert get_case("c-resolved").status == "RESOLVED" and findings_on("c-resolved") == []


def _waiting_refund(case_id: str) -> str:
    """A refund case waiting for its approval (level 0 of refund-over-50: one day)."""
    new_case(case_id, "refund-request", "RUNNING")
    action_id = f"{case_id}.p1.a0"
    action = {
        "action_id": action_id, "plan_id": f"{case_id}.p1", "capability": "http.post",
        "params": {"target": "helpdesk", "path": "/refunds/O-1", "body": {"amount": 120}},
        "digest": "d-1", "risk": "medium",
    }  # fmt: skip
    plan = {"plan_id": f"{case_id}.p1", "classification": {"confidence": 0.9}}
    commit(
        case_id,
        [("plan.signed", {"plan_id": f"{case_id}.p1"})],
        ops=(
            Put(LedgerItem(f"CASE#{case_id}", f"PLAN#{case_id}.p1", kind="plan", data=plan)),
            Put(LedgerItem(f"CASE#{case_id}", "ACTION#000", kind="action", status="PROPOSED", data=action)),
        ),
    )  # fmt: skip
    approvals.open_approval(case_id, action_id, 0)
    return action_id


def test_an_approval_past_its_sla_is_reported_once_and_left_to_people(env: dict[str, Any]) -> None:
    approval_id = _waiting_refund("c-wait")
    start(env, "c-wait")
    assert "approval_past_sla" not in run(env, timedelta(hours=1))  # within its level
    [late] = run(env)["approval_past_sla"]
    assert (late.case_id, late.subject, late.repair, late.recorded) == (
        "c-wait", approval_id, None, True,
    )  # fmt: skip
    assert late.detail["waiting_seconds"] >= 2 * 86400 - 60
    [again] = run(env)["approval_past_sla"]  # still late: counted, not recorded again
    assert again.recorded is False and len(findings_on("c-wait")) == 1
    assert get_case("c-wait").status == "WAITING_APPROVAL"
    assert approvals.load_approval(approval_id).is_pending


def test_a_handoff_nobody_took_is_reported_past_its_sla(env: dict[str, Any]) -> None:
    for case_id in ("c-handed", "c-taken"):
        new_case(case_id)
        finalize_case(case_id, "HANDED_OFF", handoff={"reason": "BUDGET_EXHAUSTED"})
    commit("c-taken", [("operator.took", {"operator": "ana"})])
    # ticket-triage's policy.handoff.sla_minutes is 30.
    assert "handoff_past_sla" not in run(env, timedelta(minutes=20))
    [late] = run(env)["handoff_past_sla"]
    assert late.case_id == "c-handed" and late.detail["reason"] == "BUDGET_EXHAUSTED"
    assert late.detail["sla_minutes"] == 30 and findings_on("c-taken") == []


def _dead_letter(env: dict[str, Any], decided: tuple[str, dict[str, Any]]) -> tuple[str, int]:
    action = decided[1]["actions"][0]
    body = {
        "task_token": "token-1",
        "plan": decided[1]["plan"],
        "action": action,
        "attestation": decided[1]["attestation"],
    }
    boto3.client("sqs").send_message(
        QueueUrl=env["dlq"],
        MessageBody=json.dumps(body),
        MessageGroupId=action["entity_key"],
        MessageDeduplicationId=action["action_id"],
    )
    return str(action["action_id"]), int(action["index"])


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> Callable[[bool], list[tuple[str, str]]]:
    """The task answers the reconciler sends; whether Step Functions takes them is set here
    (moto in-process takes any token)."""

    def install(accepted: bool) -> list[tuple[str, str]]:
        sent: list[tuple[str, str]] = []

        def fail_task(token: str, error: str, cause: dict[str, Any]) -> bool:
            sent.append((token, error))
            return accepted

        monkeypatch.setattr("aios.reconciler.dead_letters.fail_task", fail_task)
        return sent

    return install


def test_a_dead_lettered_action_fails_its_task_and_action_once(
    env: dict[str, Any], decided: tuple[str, dict[str, Any]], answers: Any
) -> None:
    sent = answers(True)
    action_id, index = _dead_letter(env, decided)
    [found] = run(env, timedelta())["action_dead_lettered"]
    assert (found.subject, found.repair, found.recorded) == (action_id, "task failed", True)
    assert sent == [("token-1", "Aios.ActionDeadLettered")]
    stored = get_action(decided[0], index)
    assert stored is not None and stored.status == "FAILED"
    assert stored.error["code"] == "ACTION_DEAD_LETTERED"
    assert "action.dead_lettered" in [e.type for e in load_audit(decided[0])]
    # The message stays for the operator; the next run answers again (the token is dead by
    # then) and records nothing more.
    [again] = run(env, timedelta())["action_dead_lettered"]
    assert again.recorded is False and len(findings_on(decided[0])) == 1
    visible = boto3.client("sqs").get_queue_attributes(
        QueueUrl=env["dlq"], AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]["ApproximateNumberOfMessages"]
    assert visible == "1"


def test_a_dead_letter_whose_token_no_task_takes_changes_no_action(
    env: dict[str, Any], decided: tuple[str, dict[str, Any]], answers: Any
) -> None:
    answers(False)
    _, index = _dead_letter(env, decided)
    [found] = run(env, timedelta())["action_dead_lettered"]
    assert found.repair is None and found.detail["answered"] is False and found.recorded
    stored = get_action(decided[0], index)
    assert stored is not None and stored.status == "APPROVED"


def test_drift_of_a_recently_applied_entity_update_is_reported_never_repaired(
    env: dict[str, Any],
) -> None:
    from aios.ledger import get_entity, now_iso, stage_entity_write

    new_case("c-entity", status="SUCCEEDED")
    params = {"set": {"status": "triaged"}}
    action = {
        "action_id": "c-entity.p1.a0", "plan_id": "c-entity.p1", "index": 0,
        "capability": "ledger.update_entity", "params": params, "entity_key": "ticket#T-1",
        "digest": "d", "model_id": "m", "prompt_version": "p@1",
    }  # fmt: skip
    result = {"entity_key": "ticket#T-1", "version": 1, "state": {"status": "triaged"}}
    commit(
        "c-entity",
        [("action.applied", {"action_id": "c-entity.p1.a0"})],
        ops=(
            Put(LedgerItem("CASE#c-entity", "ACTION#000", kind="action", status="APPLIED", data=action, result=result, updated_at=now_iso())),
            stage_entity_write("ticket#T-1", {"status": "triaged"}, version=0, action_id="c-entity.p1.a0"),
        ),
    )  # fmt: skip
    capability = get_capability("ledger.update_entity")
    assert capability.read_state is not None
    assert run(env, timedelta()) == {}  # in sync
    # Someone edits the entity behind the kit's back (same version, other state).
    LedgerItem(
        "ENTITY#ticket#T-1",
        "ENTITY",
        kind="entity",
        data={"status": "closed"},
        seq=1,
        head="c-entity.p1.a0",
    ).save()
    [drift] = run(env, timedelta())["action_drift"]
    assert (drift.case_id, drift.subject, drift.repair) == ("c-entity", "c-entity.p1.a0", None)
    assert '"closed"' in drift.detail["observed"]
    entity = get_entity("ticket#T-1")
    assert entity is not None and entity.state == {"status": "closed"}  # reported, not repaired
    assert run(env, timedelta(hours=2)) == {}  # outside the drift window now
