"""The closing figures of the signals, from a run of the sample workload in the local emulation.

Runs the recorded support tickets (`bench/workloads/support_tickets.jsonl`, automatic) and a
set of refunds that people approve, reject or send back for changes (through their signed
links), then runs the scheduled KPI job and reconciler and prints:

- the KPI table of the run (`aios kpi` over the run's window);
- the alarms on the kit's own signals with their thresholds (from the synthesized template);
- the time from an action dead-lettering to its case failing, with one reconciler run.

    .venv/bin/python bench/signals.py [--tickets 220] [--refunds 20] [--dead-letters 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from local.assembly import load_stack  # noqa: E402
from local.emulation import Emulation  # noqa: E402

TERMINAL = ("SUCCEEDED", "FAILED", "HANDED_OFF")
LINK = re.compile(r'href="([^"]+/approvals/[^"?]+\?t=[^"]+)"')


def _http(method: str, url: str, body: Any = None, form: dict[str, str] | None = None) -> Any:
    data, headers = None, {"Content-Type": "application/json"}
    if form is not None:
        data = "&".join(f"{k}={urllib.request.quote(v)}" for k, v in form.items()).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
    elif body is not None:
        data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=60) as response:
        raw = response.read()
    return json.loads(raw) if raw and raw.lstrip()[:1] in (b"{", b"[") else raw


def _submit(api: str, process: str, body: dict[str, Any]) -> str:
    return str(_http("POST", f"{api}/processes/{process}/cases", body)["case_id"])


def _status(api: str, case_id: str) -> str:
    return str(_http("GET", f"{api}/cases/{case_id}")["status"])


def _wait(api: str, case_ids: list[str], statuses: tuple[str, ...], timeout: float) -> None:
    deadline, pending = time.monotonic() + timeout, list(case_ids)
    while pending and time.monotonic() < deadline:
        pending = [c for c in pending if _status(api, c) not in statuses]
        if pending:
            time.sleep(0.5)
    if pending:
        raise TimeoutError(f"{len(pending)} cases did not reach {statuses}")


def _link(emu: Emulation, case_id: str, plan: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for mail in emu.ses_outbox():
            match = LINK.search(mail["body"])
            if match and f"/approvals/{case_id}.{plan}." in match.group(1):
                return match.group(1).replace("&amp;", "&")
        time.sleep(0.3)
    raise TimeoutError(f"no approval link for {case_id} ({plan})")


def _decide(emu: Emulation, case_id: str, decision: str, plan: str = "p1") -> None:
    link = _link(emu, case_id, plan)
    url, _, token = link.partition("?t=")
    comment = "make it amount 55" if decision == "changes" else "benchmark"
    _http("POST", url, form={"t": token, "decision": decision, "comment": comment})


def run_refunds(emu: Emulation, count: int) -> list[str]:
    """Refunds over 50: approved (3 in 5), rejected (1 in 5), changes then approved (1 in 5)."""
    api = emu.api_url
    plans = ["approve", "approve", "approve", "reject", "changes"]
    cases = []
    for n in range(count):
        body = {
            "order_id": f"O-9{n:03d}", "customer_email": "ana@example.com", "amount": 60 + n,
            "currency": "EUR", "reason": "damaged parcel", "channel": "email",
        }  # fmt: skip
        cases.append((_submit(api, "refund-request", body), plans[n % len(plans)]))
    for case_id, decision in cases:
        _decide(emu, case_id, decision)
        if decision == "changes":
            _decide(emu, case_id, "approve", plan="p2")
    return [case_id for case_id, _ in cases]


def dead_letter_to_failed(emu: Emulation, n: int) -> float:
    """Seconds from an action dead-lettering to its case FAILED, one reconciler run between."""
    api = emu.api_url
    with emu.paused("execute"):
        body = {
            "ticket_id": f"T-99{n:03d}", "customer_email": "ana@example.com",
            "subject": "charged twice", "body": "my card was charged twice",
        }  # fmt: skip
        case_id = _submit(api, "ticket-triage", body)
        _wait(api, [case_id], ("RUNNING",), 60)
        moved = emu.dead_letter(case_id)
    result = emu.runtime.invoke("case_reconciler", json.dumps({"time": _now()}).encode())  # type: ignore[union-attr]
    assert not result.function_error, result.payload
    _wait(api, [case_id], ("FAILED",), 60)
    return time.monotonic() - moved


def _now() -> str:
    return datetime.now(UTC).isoformat()


def print_alarms(emu: Emulation) -> None:
    _, template = load_stack(emu.cdk_out)  # type: ignore[arg-type]
    alarms = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"].get("Namespace") == "AIOS"
    ]
    print("\nalarms on the kit's signals (namespace AIOS, dimension service):")
    for alarm in sorted(alarms, key=lambda a: a["MetricName"]):
        op = "<" if alarm["ComparisonOperator"] == "LessThanThreshold" else ">"
        service = alarm["Dimensions"][0]["Value"]
        print(
            f"  {alarm['MetricName']:<20} {alarm['Statistic']:<8} over {alarm['Period']:>5} s "
            f"{op} {alarm['Threshold']:<5} ({service})"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=220)
    parser.add_argument("--refunds", type=int, default=20)
    parser.add_argument("--dead-letters", type=int, default=3)
    args = parser.parse_args()
    tickets = [
        json.loads(line)
        for line in (ROOT / "bench" / "workloads" / "support_tickets.jsonl")
        .read_text()
        .splitlines()
    ][: args.tickets]
    print("synthesizing and starting the emulation...", flush=True)
    logs = Path(tempfile.mkdtemp(prefix="aios-bench-logs-"))
    with Emulation(api_port=0, function_log_dir=logs) as emu:
        api = emu.api_url
        started = datetime.now(UTC)
        t0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=4) as pool:
            ticket_cases = list(pool.map(lambda t: _submit(api, "ticket-triage", t), tickets))
        refund_cases = run_refunds(emu, args.refunds)
        _wait(api, ticket_cases + refund_cases, TERMINAL, timeout=60 + 5 * len(ticket_cases))
        ended = datetime.now(UTC)
        print(
            f"{len(ticket_cases)} tickets and {len(refund_cases)} refunds finished in "
            f"{time.monotonic() - t0:.0f} s",
            flush=True,
        )
        emu.runtime.invoke("kpis", json.dumps({"time": _now()}).encode())  # type: ignore[union-attr]
        env = {**os.environ, **emu.cli_environment()}
        command = ["kpi", "--since", started.isoformat(), "--until", ended.isoformat()]
        table = subprocess.run(
            [sys.executable, "-m", "local.cli", *command],
            cwd=ROOT, env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        print(f"\n$ aios {' '.join(command)}\n{table.stdout}")
        print_alarms(emu)
        timings = [dead_letter_to_failed(emu, n) for n in range(args.dead_letters)]
        print(
            "\naction dead-lettered -> case FAILED (one reconciler run): "
            + ", ".join(f"{t:.2f} s" for t in timings)
            + f"; median {statistics.median(timings):.2f} s (on AWS add up to one"
            " reconciler_minutes interval before the run)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
