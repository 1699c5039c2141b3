"""Console page render time: a case page with 50 audit events, in the local emulation.

Hands a case off (its tenant's budget exhausted), signs in as the local operator through the
console's form, and takes and releases the case until its audit chain holds 50 events (each
move is one real ledger transaction with its event). Then it times, per request:

- the whole request as a browser makes it: `GET /console/cases/{id}` through the local API
  server (Cognito authorizer: JWT signature against the pool's JWKS, then the console function
  in-process: ledger reads, audit-chain verification, HTML), and
- the HTML rendering alone (`aios.console.case_body` + `page` on the same `CasePage`).

Prints the median and p95 of each. Wall-clock times on this machine, moto in place of
DynamoDB: a deployed function adds network latency to DynamoDB and a cold start.

    .venv/bin/python bench/console_render.py [--requests 50] [--events 50]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "layers" / "aios" / "python"))


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--events", type=int, default=50)
    args = parser.parse_args()

    import requests

    from local.emulation import Emulation
    from tests.local.console_client import handed_off_case, signed_in
    from tests.local.test_end_to_end import example

    with Emulation(api_port=0) as emu:
        process, body = example(emu.api_url)
        case_id = handed_off_case(emu, process, {**body, "ticket_id": "T-424242"})
        operator = signed_in(emu, "operator")
        page = f"/console/cases/{case_id}"

        def chain_length() -> int:
            audit = requests.get(f"{emu.api_url}/cases/{case_id}/audit", timeout=10).json()
            return int(audit["chain"]["length"])

        held = False  # a handed-off case waits untaken
        while chain_length() < args.events:
            answer = operator.post(f"{page}/{'release' if held else 'take'}", {}, csrf_from=page)
            assert answer.status_code == 303, answer.text
            held = not held
        length = chain_length()

        http_ms = []
        for _ in range(args.requests):
            started = time.perf_counter()
            answer = operator.get(page)
            http_ms.append((time.perf_counter() - started) * 1e3)
            assert answer.status_code == 200 and "Audit chain verified" in answer.text

        # The same page rendered in this process from the library's CasePage.
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": emu.aws_endpoint,
                "AWS_DEFAULT_REGION": emu.region,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
            }
        )
        from aios import console
        from aios import operator as ops
        from aios.ledger import bind_ledger

        bind_ledger(emu.deployment.functions["console"].environment["AIOS_LEDGER_TABLE"])
        view = ops.case_page(case_id)
        who = ops.Operator(username="operator", groups=frozenset({"operator"}))
        render_ms = []
        for _ in range(args.requests):
            started = time.perf_counter()
            body = console.case_body("/console", view, who, "csrf")
            html = console.page(
                view.case_id, body, base="/console", signed_in_as="operator", csrf="csrf"
            )
            render_ms.append((time.perf_counter() - started) * 1e3)
        size_kib = len(html.encode()) / 1024

    print(
        f"case page with {length} audit events ({size_kib:.0f} KiB of HTML), {args.requests} requests"
    )
    print(f"{'':40}{'median ms':>10}{'p95 ms':>10}")
    rows = (("GET through the local API (all of it)", http_ms), ("HTML rendering alone", render_ms))
    for label, values in rows:
        print(f"{label:40}{statistics.median(values):>10.2f}{_percentile(values, 0.95):>10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
