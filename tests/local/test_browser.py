"""A reviewer in a real browser: Debian's headless Chromium, driven by Playwright (playwright-core).

The link comes from the email in the emulated SES outbox; `browser/approve.mjs` checks what the
page shows, clicks Approve, and later reopens the link. `make test` installs Chromium (apt-get)
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

from tests.local.conftest import ROOT
from tests.local.test_approvals import links, refund
from tests.local.test_end_to_end import finished_case

pytestmark = pytest.mark.slow
SCRIPT = Path(__file__).parent / "browser" / "approve.mjs"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def browse(*args: str) -> dict[str, Any]:
    """Run the browser script; its failure message becomes the test's."""
    node = shutil.which("node")
    assert node, "node is not installed (make setup)"
    assert Path(CHROMIUM).is_file(), f"{CHROMIUM} is missing: `make test` installs it"
    driver = ROOT / "node_modules" / "playwright-core"
    assert driver.is_dir(), "playwright-core is missing: `make setup` installs it"
    proc = subprocess.run(
        [node, str(SCRIPT), *args],
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
