"""The kill switch end to end, as an operator uses it: `aios control revoke` while actions wait
on the queue applies none of them (each refused with CAPABILITY_REVOKED, recorded, nothing at
the receiver), a case submitted meanwhile is handed to a person, and after `aios control
restore` new cases run. Prints how long the revocation took to stop execution (`-s`)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import datetime
from typing import Any

import pytest
import requests

from tests.local.conftest import ROOT, wait_for
from tests.local.test_approvals import refund
from tests.local.test_end_to_end import TERMINAL, receiver_requests

pytestmark = pytest.mark.slow

QUEUED = 3


def control(emulation: Any, *args: str) -> subprocess.CompletedProcess[str]:
    """`aios control ...` against the emulation, in its own process, as an operator runs it."""
    table = emulation.deployment.functions["api"].environment["AIOS_LEDGER_TABLE"]
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": emulation.region,
    }
    command = [sys.executable, "-m", "local.cli", "control", *args, "--table", table]
    return subprocess.run(
        [*command, "--endpoint-url", emulation.aws_endpoint],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _case(api: str, case_id: str) -> dict[str, Any]:
    return dict(requests.get(f"{api}/cases/{case_id}", timeout=10).json())


def _ended(api: str, case_id: str, statuses: tuple[str, ...] = TERMINAL) -> dict[str, Any]:
    return wait_for(
        lambda: c if (c := _case(api, case_id))["status"] in statuses else None,
        timeout=60,
        what=f"case {case_id} to end",
    )


def _queued(emulation: Any) -> int:
    [mapping] = [m for m in emulation.deployment.event_sources if m.function == "execute"]
    attributes = emulation.client("sqs").get_queue_attributes(
        QueueUrl=mapping.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def _at(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def _small_refund(emulation: Any) -> str:
    return refund(emulation, order_id=f"O-{uuid.uuid4().int % 10**9}", amount=20)


def test_revoke_while_actions_are_queued_applies_none_and_restore_lets_new_cases_run(
    emulation: Any,
) -> None:
    api = emulation.api_url
    execute = emulation.event_source("execute")
    execute.disable()  # the actions wait on the queue, as behind a busy or slow execute
    try:
        queued = [_small_refund(emulation) for _ in range(QUEUED)]
        wait_for(lambda: _queued(emulation) >= QUEUED, timeout=60, what="actions on the queue")
        revoked = control(emulation, "revoke", "capability", "http.post", "--reason", "incident")
        assert revoked.returncode == 0, revoked.stderr
        resumed = time.time()
        execute.enable()
        done = [_ended(api, case_id) for case_id in queued]
        handed = _ended(api, _small_refund(emulation), ("HANDED_OFF",))
    finally:
        execute.enable()
        control(emulation, "restore", "capability", "http.post", "--reason", "fixed")

    for case in done:
        assert case["status"] == "FAILED"
        assert case["error"]["error"] == "Aios.CapabilityRevoked"
        [action] = case["actions"]
        assert action["status"] == "REJECTED" and action["error"]["code"] == "CAPABILITY_REVOKED"
        assert receiver_requests(emulation, case["case_id"]) == []  # nothing applied
    assert handed["handoff"]["reason"] == "CAPABILITY_REVOKED"  # Decide planned nothing

    fresh = _ended(api, _small_refund(emulation))
    assert fresh["status"] == "SUCCEEDED"
    assert len(receiver_requests(emulation, fresh["case_id"])) == 1

    chain = control(emulation, "audit")
    assert chain.returncode == 0 and "chain VALID" in chain.stdout, chain.stdout
    assert "revocation.revoked" in chain.stdout and "revocation.restored" in chain.stdout
    _report(emulation, revoked.stdout, resumed, done)


def _report(emulation: Any, revoked: str, resumed: float, done: list[dict[str, Any]]) -> None:
    """The closing figure: the revocation is one ledger write (timed by the CLI); every check
    after it reads it (consistent read, no cache), so each queued action is refused on its
    first delivery: measured here from the moment execute's event source was enabled again."""
    refused = []
    for case in done:
        audit = requests.get(f"{emulation.api_url}/cases/{case['case_id']}/audit", timeout=10)
        [rejected] = [e for e in audit.json()["events"] if e["type"] == "action.rejected"]
        refused.append(_at(rejected["at"]) - resumed)
    print(
        f"\nkill switch: {revoked.strip()}\n"
        f"  {len(done)} queued actions refused {min(refused) * 1000:.0f}-"
        f"{max(refused) * 1000:.0f} ms after execute resumed (idle poll 200 ms); applied: 0"
    )
