"""Load on the local emulation: concurrent clients submitting ticket-triage cases through the API.

Each client loops: POST a case (timed: the submit latency), then polls GET /cases/{id} until the
case is terminal. Prints the cases finished per second over the run, the submit latency
percentiles, the case latency, and the connections refused or reset (a dropped connection is
counted, never retried). The handlers are the real ones on the synthesized assembly.

    .venv/bin/python bench/emulation_load.py [--clients 20] [--seconds 30] [--check]
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TERMINAL = ("SUCCEEDED", "FAILED", "HANDED_OFF")


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.submits: list[float] = []
        self.cases: list[float] = []
        self.statuses: dict[str, int] = {}
        self.dropped = 0
        self.errors: list[str] = []


def _request(host: str, port: int, method: str, path: str, body: Any = None) -> Any:
    conn = http.client.HTTPConnection(host, port, timeout=60)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        payload = response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path} -> {response.status} {payload[:200]!r}")
        return json.loads(payload)
    finally:
        conn.close()


def client(api: str, example: dict[str, Any], n: int, until: float, stats: Stats) -> None:
    split = urlsplit(api)
    host, port = split.hostname or "127.0.0.1", split.port or 80
    i = 0
    while time.monotonic() < until:
        i += 1
        body = {**example, "ticket_id": f"T-{n * 1000000 + i}"}
        try:
            started = time.monotonic()
            case_id = _request(host, port, "POST", "/processes/ticket-triage/cases", body)[
                "case_id"
            ]
            submitted = time.monotonic()
            while True:
                case = _request(host, port, "GET", f"/cases/{case_id}")
                if case["status"] in TERMINAL:
                    break
                if time.monotonic() - started > 120:
                    raise TimeoutError(case_id)
                time.sleep(0.1)
            done = time.monotonic()
        except (ConnectionError, http.client.RemoteDisconnected) as exc:
            with stats.lock:
                stats.dropped += 1
                stats.errors.append(repr(exc))
            continue
        except Exception as exc:
            with stats.lock:
                stats.errors.append(repr(exc))
            continue
        with stats.lock:
            if done <= until:
                stats.cases.append(done - started)
                stats.statuses[case["status"]] = stats.statuses.get(case["status"], 0) + 1
            stats.submits.append(submitted - started)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--check", action="store_true", help="exit 1 when the target is not met")
    args = parser.parse_args()
    from local.emulation import Emulation

    logs = Path(tempfile.mkdtemp(prefix="aios-load-"))
    stats = Stats()
    with Emulation(api_port=0, function_log_dir=logs) as emu:
        processes = _request(*_host_port(emu.api_url), "GET", "/processes")["processes"]
        example = next(p for p in processes if p["name"] == "ticket-triage")["example_input"]
        warm = Stats()
        client(emu.api_url, example, 0, time.monotonic() + 0.1, warm)  # cold starts
        started = time.monotonic()
        until = started + args.seconds
        threads = [
            threading.Thread(target=client, args=(emu.api_url, example, n + 1, until, stats))
            for n in range(args.clients)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started

    rate = len(stats.cases) / elapsed
    p50 = _pct(stats.submits, 0.5)
    print(f"{args.clients} clients, {elapsed:.1f} s: {len(stats.cases)} cases finished")
    print(f"cases/s          {rate:.2f}")
    print(f"submit p50/p95   {p50 * 1e3:.0f} ms / {_pct(stats.submits, 0.95) * 1e3:.0f} ms")
    if stats.cases:
        print(
            f"case p50/p95     {statistics.median(stats.cases):.2f} s / "
            f"{_pct(stats.cases, 0.95):.2f} s"
        )
    print(f"statuses         {stats.statuses}")
    print(f"dropped          {stats.dropped}")
    print(f"other errors     {len(stats.errors) - stats.dropped}")
    for error in stats.errors[:5]:
        print(f"  {error}")
    ok = rate >= 5 and stats.dropped == 0 and p50 <= 0.5 and not stats.errors
    print(
        "target (>= 5 cases/s, no dropped connection, submit p50 <= 500 ms):",
        "met" if ok else "NOT met",
    )
    return 1 if args.check and not ok else 0


def _host_port(api: str) -> tuple[str, int]:
    split = urlsplit(api)
    return split.hostname or "127.0.0.1", split.port or 80


if __name__ == "__main__":
    raise SystemExit(main())
