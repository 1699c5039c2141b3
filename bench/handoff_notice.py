"""Time from handoff to notice, in the local emulation.

Exhausts ticket-triage's budget for the tenant, then submits cases one at a time; each is
handed off by Decide (no model call), marked HANDED_OFF, and the case machine's `handoff`
task notifies the process's handler by email (emulated SES). Prints, per case and as
percentiles, the time from the ledger's `case.handed_off` event to its `handoff.notified`
event (both stamped by the functions that wrote them) and the wall time from the case being
seen HANDED_OFF to the email being in the outbox.

    .venv/bin/python bench/handoff_notice.py [--cases 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HANDLER = "lead@support.example.com"


def _get(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


def _until(probe: Any, timeout: float = 60, interval: float = 0.01) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(interval)
    raise TimeoutError(str(probe))


def _event_at(events: list[dict[str, Any]], type_: str) -> datetime | None:
    found = next((e for e in events if e["type"] == type_), None)
    return datetime.fromisoformat(found["at"]) if found else None


def measure(emu: Any, body: dict[str, Any]) -> tuple[float, float]:
    """(ledger ms, wall ms) from handoff to notice for one case."""
    api = emu.api_url
    case_id = _post(f"{api}/processes/ticket-triage/cases", body)["case_id"]
    _until(lambda: _get(f"{api}/cases/{case_id}")["status"] == "HANDED_OFF")
    seen = time.monotonic()
    link = f"/console/cases/{case_id}"
    _until(lambda: any(link in m["body"] for m in emu.ses_outbox()))
    mailed = time.monotonic()

    def events() -> list[dict[str, Any]] | None:
        found = _get(f"{api}/cases/{case_id}/audit")["events"]
        return found if _event_at(found, "handoff.notified") else None

    audit = _until(events)
    handed, notified = _event_at(audit, "case.handed_off"), _event_at(audit, "handoff.notified")
    assert handed is not None and notified is not None
    return (notified - handed).total_seconds() * 1000, (mailed - seen) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=10)
    args = parser.parse_args()
    from local.emulation import Emulation

    logs = Path(tempfile.mkdtemp(prefix="aios-bench-"))
    with Emulation(api_port=0, function_log_dir=logs) as emu:
        decide = emu.deployment.functions["decide"].environment  # type: ignore[union-attr]
        api = emu.deployment.functions["api"].environment  # type: ignore[union-attr]
        day = datetime.now(UTC).date().isoformat()
        emu.client("dynamodb").put_item(
            TableName=decide["AIOS_DECISION_TABLE"],
            Item={
                "item_key": {
                    "S": f"BUDGET#{api.get('AIOS_TENANT', 'default')}#ticket-triage#{day}"
                },
                "kind": {"S": "budget"},
                "spent_micros": {"N": str(10**12)},
                "spent_tokens": {"N": "0"},
            },
        )
        processes = _get(f"{emu.api_url}/processes")["processes"]
        example = next(p for p in processes if p["name"] == "ticket-triage")["example_input"]
        measure(emu, {**example, "ticket_id": "T-1"})  # warm: cold starts
        ledger, wall = [], []
        for i in range(args.cases):
            lms, wms = measure(emu, {**example, "ticket_id": f"T-{2000 + i}"})
            ledger.append(lms)
            wall.append(wms)

    def row(name: str, values: list[float]) -> str:
        cuts = (
            statistics.quantiles(values, n=20, method="inclusive")
            if len(values) > 1
            else values * 19
        )
        return f"{name:<44} {statistics.median(values):>8.0f} {cuts[18]:>8.0f} {max(values):>8.0f}"

    print(f"{args.cases} cases handed off by an exhausted budget, one at a time (ms)")
    print(f"{'':<44} {'p50':>8} {'p95':>8} {'max':>8}")
    print(row("case.handed_off -> handoff.notified (ledger)", ledger))
    print(row("seen HANDED_OFF -> email in the SES outbox", wall))


if __name__ == "__main__":
    main()
