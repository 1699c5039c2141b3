"""`aios executor run` against the emulation's action queue: with the execute function's
deliveries held, a separate executor process (the execute function's environment, the
synthesized layers) verifies and applies the case's actions, answers the case machine, and
stops cleanly on SIGTERM; a message signed with a key it does not trust is refused and recorded."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.local.conftest import wait_for
from tests.local.test_end_to_end import example, finished_case, receiver_requests, submit
from tests.local.test_queue_forgery import _genuine, _orphan, _send
from tests.local.test_rejections import _resign

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _executor(emulation: Any, *args: str) -> subprocess.Popen[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", ""),
        **emulation.executor_environment(),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "local.cli", "executor", "run", "--wait-seconds", "1", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stop(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=180)
    return process.returncode, out, err


def test_the_executor_applies_a_case_from_the_queue_and_answers_the_case_machine(
    emulation: Any,
) -> None:
    api = emulation.api_url
    with emulation.paused("execute"):
        process = _executor(emulation)
        try:
            name, body = example(api)
            response = submit(api, name, body, key=f"executor-{uuid.uuid4()}")
            assert response.status_code == 202, response.text
            case_id = response.json()["case_id"]
            case = finished_case(api, case_id, timeout=180)
        finally:
            code, out, err = _stop(process)
    assert code == 0, err
    assert case["status"] == "SUCCEEDED", case
    applied = [a for a in case["actions"] if a["status"] == "APPLIED"]
    assert applied
    calls = receiver_requests(emulation, case_id)
    http = [a["action_id"] for a in applied if a["capability"] == "http.post"]
    assert http and sorted(c["headers"]["Idempotency-Key"] for c in calls) == sorted(http)
    assert "message(s) handled" in err
    logged = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    outcomes = {r.get("action_id"): r.get("outcome") for r in logged if "outcome" in r}
    assert {a["action_id"]: "applied" for a in applied}.items() <= outcomes.items()


def test_the_executor_refuses_and_records_a_plan_signed_by_an_untrusted_key(
    emulation: Any,
) -> None:
    api = emulation.api_url
    name, body = example(api)
    response = submit(api, name, body, key=f"executor-forged-{uuid.uuid4()}")
    case_id = response.json()["case_id"]
    finished_case(api, case_id, timeout=180)  # the genuine case, by the execute function
    forged = _genuine(emulation, case_id)
    key = emulation.client("kms").create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    _resign(emulation, forged, key["KeyMetadata"]["Arn"])
    with emulation.paused("execute"):
        process = _executor(emulation, "--max-messages", "1")
        message_id = _send(emulation, json.dumps(forged), forged["action"]["entity_key"])
        _, err = process.communicate(timeout=180)
    assert process.returncode == 0, err
    events = wait_for(
        lambda: [
            e
            for e in requests.get(f"{api}/cases/{case_id}/audit", timeout=120).json()["events"]
            if e["type"] == "action.rejected"
        ],
        timeout=180,
        what="the rejection on the case's chain",
    )
    assert events[-1]["data"]["code"] == "SIGNATURE_INVALID"
    assert _orphan(emulation, message_id) is None  # recorded on the named case's chain
