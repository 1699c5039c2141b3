"""The approval request function's input: every payload the case machine sends parses as its
own step, and anything else is refused before it reaches the ledger."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pydantic import ValidationError

from tests.conftest import ROOT

SAMPLE: dict[str, Any] = {
    "case_id": "c-1",
    "action": {"action_id": "c-1.p1.a0", "index": 0, "plan_id": "c-1.p1", "digest": "d"},
    "approval_id": "c-1.p1.a0",
    "level": 0,
    "task_token": "token",
}


@pytest.fixture(scope="module")
def handler_module() -> Iterator[ModuleType]:
    env = {"AIOS_LEDGER_TABLE": "ledger", "AIOS_APPROVALS_SECRET_ARN": "arn:secret"}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        path = ROOT / "functions" / "approval_request" / "app.py"
        spec = importlib.util.spec_from_file_location("approval_request_app", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # as an import does: pydantic resolves names there
        spec.loader.exec_module(module)
        yield module
        del sys.modules[spec.name]


def _payloads(asl: Path, steps: set[str]) -> Iterator[dict[str, Any]]:
    """Each payload the ASL sends the approval request function whose `step` is one of
    `steps`, with sample values for its paths."""

    def walk(node: Any) -> Iterator[dict[str, Any]]:
        if isinstance(node, dict):
            parameters = node.get("Parameters", {})
            payload = parameters.get("Payload")
            if (
                parameters.get("FunctionName") == "${ApprovalRequestFunctionArn}"
                and isinstance(payload, dict)
                and payload.get("step") in steps
            ):
                yield payload
            for value in node.values():
                yield from walk(value)

    for payload in walk(json.loads(asl.read_text())):
        yield {
            k.removesuffix(".$"): SAMPLE[k.removesuffix(".$")] if k.endswith(".$") else v
            for k, v in payload.items()
        }


def test_every_approval_payload_of_the_case_machine_parses_as_its_step(
    handler_module: ModuleType,
) -> None:
    steps = {
        "open": handler_module.Open,
        "await": handler_module.Await,
        "escalate": handler_module.Escalate,
        "revision": handler_module.Revise,
    }
    seen = set()
    for event in _payloads(ROOT / "state_machines" / "case.asl.json", set(steps)):
        parsed = handler_module.STEP.validate_python(event)
        assert type(parsed) is steps[event["step"]]
        seen.add(event["step"])
    assert seen == set(steps)


@pytest.mark.parametrize(
    "event",
    [
        {"step": "approve", "case_id": "c-1"},
        {"case_id": "c-1"},
        {"step": "await", "case_id": "c-1", "approval_id": "c-1.p1.a0", "level": 0},
        {"step": "revision", "case_id": "c-1", "approval_id": "c-1.p1.a0"},
    ],
)
def test_an_unknown_or_incomplete_step_is_refused(
    handler_module: ModuleType, event: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError):
        handler_module.STEP.validate_python(event)
