"""`aios audit verify` against the emulation's ledger: a valid chain, then each kind of
tampering named at its first bad sequence number."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from typing import Any

import pytest

from tests.local.conftest import ROOT
from tests.local.test_end_to_end import example, finished_case, submit

pytestmark = pytest.mark.slow


def _verify(emulation: Any, case_id: str) -> subprocess.CompletedProcess[str]:
    table = emulation.deployment.functions["api"].environment["AIOS_LEDGER_TABLE"]
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": emulation.region,
    }
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "local.cli",
            "audit",
            "verify",
            case_id,
            "--table",
            table,
            "--endpoint-url",
            emulation.aws_endpoint,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def case_id(emulation: Any) -> str:
    process, body = example(emulation.api_url)
    body["ticket_id"] = f"T-{uuid.uuid4().int % 10**9}"
    case_id = submit(emulation.api_url, process, body).json()["case_id"]
    assert finished_case(emulation.api_url, case_id)["status"] == "SUCCEEDED"
    return case_id


def _audit_key(case_id: str, seq: int) -> dict[str, Any]:
    return {"pk": {"S": f"CASE#{case_id}"}, "sk": {"S": f"AUDIT#{seq:010d}"}}


def test_untouched_chain_verifies(emulation: Any, case_id: str) -> None:
    result = _verify(emulation, case_id)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "chain VALID" in result.stdout


def test_edited_event_is_named(emulation: Any, case_id: str) -> None:
    table = emulation.deployment.functions["api"].environment["AIOS_LEDGER_TABLE"]
    emulation.client("dynamodb").update_item(
        TableName=table,
        Key=_audit_key(case_id, 3),
        UpdateExpression="SET #d = :d",
        ExpressionAttributeNames={"#d": "data"},
        ExpressionAttributeValues={":d": {"S": '{"edited": true}'}},
    )
    result = _verify(emulation, case_id)
    assert result.returncode == 1 and "BROKEN at seq 3" in result.stdout


def test_deleted_event_is_named(emulation: Any, case_id: str) -> None:
    table = emulation.deployment.functions["api"].environment["AIOS_LEDGER_TABLE"]
    emulation.client("dynamodb").delete_item(TableName=table, Key=_audit_key(case_id, 4))
    result = _verify(emulation, case_id)
    assert result.returncode == 1 and "BROKEN at seq 4" in result.stdout


def test_unknown_case_is_reported(emulation: Any) -> None:
    assert _verify(emulation, "c-nope").returncode == 2
