"""The finalize, memory and handoff functions take exactly the payloads the state machine sends: each
Task's payload is dispatched by its discriminator, and anything else is refused before a
ledger write."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aios.ledger import create_case, get_case, load_audit
from pydantic import TypeAdapter, ValidationError

from local.lambda_runtime import LambdaContext

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")
ROOT = Path(__file__).resolve().parents[2]
ASL = json.loads((ROOT / "state_machines" / "case.asl.json").read_text())


def _load(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("AIOS_LEDGER_TABLE", "ledger")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "test")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    spec = importlib.util.spec_from_file_location(
        f"{name}_app", ROOT / "functions" / name / "app.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # as Lambda imports it: models resolve
    spec.loader.exec_module(module)
    return module


def _context(name: str) -> LambdaContext:
    arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    return LambdaContext(name, 256, arn, "req-1", timeout_s=30)


def _states(states: dict[str, Any]) -> dict[str, Any]:
    """Every state of the machine, the Map's item states included."""
    out = dict(states)
    for state in states.values():
        if "ItemProcessor" in state:
            out.update(_states(state["ItemProcessor"]["States"]))
    return out


def _payloads(function: str) -> dict[str, dict[str, Any]]:
    """The payload templates of the Tasks that invoke `function`, by state name."""
    return {
        name: state["Parameters"]["Payload"]
        for name, state in _states(ASL["States"]).items()
        if state.get("Parameters", {}).get("FunctionName") == f"${{{function}FunctionArn}}"
        and isinstance(state["Parameters"].get("Payload"), dict)
    }


SAMPLES: dict[str, Any] = {
    "case_id": "c-1",
    "tenant": "t",
    "process": "p",
    "input": {"subject": "s"},
    "handoff": {"reason": "BUDGET_EXHAUSTED", "detail": "d"},
    "error": {"Error": "States.TaskFailed", "Cause": "c"},
    "compensation": {"compensated": [], "not_compensable": []},
    "compensation_key": "8d5e1f0a-6b1c-4a8e-9f3e-2a7c1b0d9e42",
    "handoff_id": "c-1.p1",
    "task_token": "AAAA-token",
    "results": [  # the actions' task answers: one the execution plane on its own applied
        {
            "action_id": "c-1.p1.a0",
            "status": "APPLIED",
            "result": {},
            "index": 0,
            "digest": "0" * 64,
            "rules": ["auto: risk low <= low"],
            "recorded": False,
        },
        {"action_id": "c-1.p1.a1", "status": "SKIPPED"},
    ],
}


def _instance(template: dict[str, Any]) -> dict[str, Any]:
    """The payload a Task sends: its constants as they are, its paths filled with samples."""
    return {
        key.removesuffix(".$"): SAMPLES[key.removesuffix(".$")] if key.endswith(".$") else value
        for key, value in template.items()
    }


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        (
            "finalize",
            {
                "RecordHandoff": "RecordHandoff",
                "MarkCompensating": "BeginCompensation",
                "RecordFailure": "RecordFailure",
            },
        ),
        ("memory", {"Recall": "Recall", "LearnSuccess": "Learn", "LearnFailure": "Learn"}),
    ],
)
def test_each_task_payload_of_the_machine_parses_into_its_own_model(
    function: str, expected: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIOS_MEMORY_ENGINE", "none")
    app = _load(function, monkeypatch)
    request = app.FinalizeRequest if function == "finalize" else app.MemoryRequest
    payloads = _payloads(function.capitalize())
    parsed = {
        name: type(TypeAdapter(request).validate_python(_instance(t))).__name__
        for name, t in payloads.items()
    }
    assert parsed == expected


def test_the_execution_status_change_of_a_succeeded_case_parses_and_nothing_else_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Finalize records SUCCEEDED on EventBridge's delivery of Step Functions' status change:
    the event as AWS sends it parses, naming the case; another status or source does not."""
    monkeypatch.setenv("AIOS_MEMORY_ENGINE", "none")
    app = _load("finalize", monkeypatch)
    arn = "arn:aws:states:us-east-1:123456789012:execution:cases:c-1"
    event = {
        "version": "0",
        "id": "315c1398-40ff-a850-213b-158f73e60175",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": "123456789012",
        "time": "2026-12-01T10:00:00Z",
        "region": "us-east-1",
        "resources": [arn],
        "detail": {
            "executionArn": arn,
            "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:cases",
            "name": "c-1",
            "status": "SUCCEEDED",
            "startDate": 1764583200000,
            "stopDate": 1764583201000,
            "input": "{}",
            "output": "{}",
        },
    }
    parsed = TypeAdapter(app.FinalizeRequest).validate_python(event)
    assert type(parsed).__name__ == "ExecutionSucceeded" and parsed.detail.name == "c-1"
    # The actions' task answers ride in the output: a JSON string from AWS, a dict from moto.
    answers = [{"action_id": "a-1", "status": "APPLIED"}]
    for output in (json.dumps({"results": answers}), {"results": answers}):
        with_output = {**event, "detail": {**event["detail"], "output": output}}
        parsed = TypeAdapter(app.FinalizeRequest).validate_python(with_output)
        assert parsed.detail.results() == answers
    for other in (
        {**event, "detail": {**event["detail"], "status": "FAILED"}},
        {**event, "source": "aios.cases"},
    ):
        with pytest.raises(ValidationError):
            TypeAdapter(app.FinalizeRequest).validate_python(other)


def test_each_handoff_task_payload_parses_into_its_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIOS_APPROVALS_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:1:secret:a")
    app = _load("handoff", monkeypatch)
    parsed = {
        name: type(TypeAdapter(app.HandoffRequest).validate_python(_instance(t))).__name__
        for name, t in _payloads("Handoff").items()
    }
    assert parsed == {
        "AwaitOperator": "Await",
        "AwaitOperatorPastSla": "Await",
        "RemindHandlers": "Remind",
        "ResumeCase": "Resume",
        "HandoffTimedOut": "Resume",
    }
    with pytest.raises(ValidationError):
        TypeAdapter(app.HandoffRequest).validate_python(
            {"step": "resolve", "case_id": "c-1", "handoff_id": "c-1.p1"}
        )


def test_finalize_dispatches_each_outcome_the_machine_sends(
    ledger: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _load("finalize", monkeypatch)
    create_case("c-fin", "RUNNING", {"process": "p"}, [("case.received", {})])
    error = {"Error": "Aios.ActionFailed", "Cause": "{}"}
    begin = {
        "case_id": "c-fin",
        "outcome": "COMPENSATING",
        "error": error,
        "compensation_key": "k-1",
    }
    assert app.handler(begin, _context("finalize")) == {
        "case_id": "c-fin",
        "status": "COMPENSATING",
    }
    failed = {"case_id": "c-fin", "outcome": "FAILED", "compensation": {"compensated": []}}
    assert app.handler(failed, _context("finalize"))["status"] == "FAILED"
    case = get_case("c-fin")
    assert case.data["error"]["error"] == "Aios.ActionFailed"
    assert case.data["compensation"] == {"compensated": [], "not_compensable": []}

    create_case("c-hand", "RUNNING", {"process": "p"}, [("case.received", {})])
    handoff = {"reason": "BUDGET_EXHAUSTED", "detail": "no budget"}
    out = app.handler(
        {"case_id": "c-hand", "outcome": "HANDED_OFF", "handoff": handoff}, _context("finalize")
    )
    assert out["status"] == "HANDED_OFF" and get_case("c-hand").data["handoff"] == handoff


@pytest.mark.parametrize(
    "payload",
    [
        {"case_id": "c-bad", "outcome": "DONE"},
        {"case_id": "c-bad"},
        {"case_id": "c-bad", "outcome": "SUCCEEDED", "error": {"Error": "x"}},
        {"case_id": "c-bad", "outcome": "COMPENSATING"},
        {"case_id": "c-bad", "outcome": "HANDED_OFF", "handoff": {"reason": "bored"}},
    ],
)
def test_finalize_refuses_a_payload_the_machine_never_sends(
    ledger: str, monkeypatch: pytest.MonkeyPatch, payload: dict[str, Any]
) -> None:
    app = _load("finalize", monkeypatch)
    create_case("c-bad", "RUNNING", {}, [("case.received", {})])
    with pytest.raises(ValidationError):
        app.handler(payload, _context("finalize"))
    assert get_case("c-bad").status == "RUNNING" and len(load_audit("c-bad")) == 1


def test_memory_dispatches_recall_and_learn_and_refuses_other_steps(
    ledger: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIOS_MEMORY_ENGINE", "none")
    app = _load("memory", monkeypatch)
    recall = {"step": "recall", "case_id": "c", "tenant": "t", "process": "p", "input": {}}
    assert app.handler(recall, _context("memory")) == {
        "namespace": "p",
        "embedding_model": "",
        "memories": [],
        "summary": "",
    }
    learn = {"step": "learn", "case_id": "c", "outcome": "FAILED"}
    assert app.handler(learn, _context("memory")) == {"learned": False}
    for bad in ({**learn, "step": "forget"}, {**learn, "tenant": "t"}, {"case_id": "c"}):
        with pytest.raises(ValidationError):
            app.handler(bad, _context("memory"))
