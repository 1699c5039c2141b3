"""People in a real browser: Debian's headless Chromium, driven by Playwright (playwright-core).

A reviewer: the link comes from the email in the emulated SES outbox; `browser/approve.mjs`
checks what the page shows, clicks Approve, and later reopens the link. An operator:
`browser/console.mjs` signs in to the console, finds a handed-off case in its queue, reads it,
returns it to automation with a note (or acts on it by hand) and watches it finish. `make test` installs Chromium (apt-get)
and playwright-core (npm) first; a missing browser or driver fails this test, it never skips.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.local.conftest import ROOT
from tests.local.console_client import handed_off_case
from tests.local.test_approvals import links, refund
from tests.local.test_end_to_end import example, finished_case, receiver_requests

pytestmark = pytest.mark.slow
SCRIPT = Path(__file__).parent / "browser" / "approve.mjs"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def browse(*args: str, script: Path = SCRIPT) -> dict[str, Any]:
    """Run a browser script; its failure message becomes the test's."""
    node = shutil.which("node")
    assert node, "node is not installed (make setup)"
    assert Path(CHROMIUM).is_file(), f"{CHROMIUM} is missing: `make test` installs it"
    driver = ROOT / "node_modules" / "playwright-core"
    assert driver.is_dir(), "playwright-core is missing: `make setup` installs it"
    proc = subprocess.run(
        [node, str(script), *args],
        cwd=ROOT,
        env={**os.environ, "CHROMIUM": CHROMIUM},
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert proc.returncode == 0, f"browser check failed:\n{proc.stderr[-3000:]}"
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_reviewer_approves_in_headless_chromium_and_the_link_is_then_used_up(
    emulation: Any, tmp_path: Path
) -> None:
    case_id = refund(emulation, order_id="O-2101", amount=75)
    [link] = links(emulation, case_id).values()
    expected = {
        "capability": "http.post",
        "risk": "medium",
        "params": ['"amount": 75', "/refunds/O-2101"],
        "input": ['"order_id": "O-2101"', '"reason": "Damaged parcel"'],
    }
    screenshot = tmp_path / "approval-page.png"
    seen = browse("decide", link, json.dumps(expected), str(screenshot))
    assert seen["approver"] == "finance-lead"
    assert seen["after"] == "Approved: the action will run."
    assert screenshot.stat().st_size > 10_000
    done = finished_case(emulation.api_url, case_id)
    assert done["status"] == "SUCCEEDED", done
    [action] = done["actions"]
    assert action["status"] == "APPLIED" and action["attestation"]["approvers"] == ["finance-lead"]
    again = browse("reopen", link)
    assert again["status"] == 409
    assert again["message"].startswith("already decided by finance-lead at ")


CONSOLE_SCRIPT = Path(__file__).parent / "browser" / "console.mjs"


def operate(*args: str) -> dict[str, Any]:
    """Run the console browser script; its failure message becomes the test's."""
    return browse(*args, script=CONSOLE_SCRIPT)


def test_operator_returns_one_case_and_acts_by_hand_on_another_in_headless_chromium(
    emulation: Any, tmp_path: Path
) -> None:
    operator = next(u for u in emulation.console_users if u.role == "operator")
    process, body = example(emulation.api_url)
    returned = handed_off_case(emulation, process, {**body, "ticket_id": "T-990101"})
    acted = handed_off_case(emulation, process, {**body, "ticket_id": "T-990102"})
    login = (emulation.api_url, operator.username, operator.password)

    note = "Budget raised for today; plan it again."
    seen = operate("return", *login, returned, note, str(tmp_path / "case-page.png"))
    assert seen["status"] == "HANDED_OFF" and seen["reason"] == "BUDGET_EXHAUSTED"
    assert "exhausted" in seen["detail"] and seen["chain"].startswith("Audit chain verified")
    assert '"ticket_id": "T-990101"' in seen["input"]
    assert seen["finished"] == "SUCCEEDED"
    events = requests.get(f"{emulation.api_url}/cases/{returned}/audit", timeout=10).json()
    [move] = [e for e in events["events"] if e["type"] == "operator.returned"]
    assert move["data"]["operator"] == "operator" and move["data"]["note"] == note

    params = {"target": "helpdesk", "path": "/tickets/T-990102/reply",
              "body": {"reply": "Handled by hand from the console"}}  # fmt: skip
    seen = operate("act", *login, acted, json.dumps(params), str(tmp_path / "act-form.png"))
    assert seen["finished"] == "SUCCEEDED" and "APPLIED" in seen["actions"]
    received = [r for r in receiver_requests(emulation, acted) if r["path"].endswith("/reply")]
    assert len(received) == 1
    assert json.loads(received[0]["body"]) == params["body"]
    audit = requests.get(f"{emulation.api_url}/cases/{acted}/audit", timeout=10).json()
    assert audit["chain"]["valid"]
    [move] = [e for e in audit["events"] if e["type"] == "operator.acted"]
    assert move["data"]["operator"] == "operator"
    assert (tmp_path / "case-page.png").stat().st_size > 10_000
