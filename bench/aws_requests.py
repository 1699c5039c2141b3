"""AWS requests per executed action and per case, counted in the local emulation.

Every botocore session in the process gets a `before-send` hook, so each request made by the
handlers, the Step Functions interpreter (its SQS sends) and the SQS poller is counted by
service and operation. Lambda invocations (Step Functions' lambda:invoke, the SQS event source)
run in-process in the emulation and are not counted; the benchmark's own status polls are
excluded. Prints the counts per case and
per action beside the least the design allows, and the ratio between the two.

    .venv/bin/python bench/aws_requests.py [--cases 20]
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import botocore.session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COUNTS: collections.Counter[str] = collections.Counter()
_LOCK = threading.Lock()
_READER = threading.local()  # set while the api function serves the benchmark's status polls
_original_init = botocore.session.Session.__init__


def _count(event_name: str = "", **_: Any) -> None:
    if getattr(_READER, "polling", False):
        return
    _, service, operation = event_name.split(".", 2)
    with _LOCK:
        COUNTS[f"{service}:{operation}"] += 1


def _counting_init(self: botocore.session.Session, *args: Any, **kwargs: Any) -> None:
    _original_init(self, *args, **kwargs)
    self.register("before-send", _count)


botocore.session.Session.__init__ = _counting_init  # type: ignore[method-assign]

# Least the design allows for an auto-approved case: per case, per action.
# The plan's auto actions on one entity go in one message, answered once.
LEAST_PER_CASE = {
    "sfn:StartExecution": 1,
    "kms:Sign": 1,
    "sqs:SendMessage": 1,  # made by Step Functions (sendMessage.waitForTaskToken)
    "sfn:SendTaskSuccess": 1,
}
LEAST_PER_ACTION = {
    "dynamodb:TransactWriteItems": 1,  # action APPLIED + audit event (+ entity version)
}


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


def _get(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


def _as_bytes(payload: Any) -> bytes:
    if isinstance(payload, bytes):
        return payload
    return json.dumps(payload).encode() if not isinstance(payload, str) else payload.encode()


def run_case(api: str, body: dict[str, Any]) -> dict[str, Any]:
    case_id = _post(f"{api}/processes/ticket-triage/cases", body)["case_id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        case = _get(f"{api}/cases/{case_id}")
        if case["status"] in ("SUCCEEDED", "FAILED"):
            return case
        time.sleep(0.05)
    raise TimeoutError(case_id)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=20)
    args = parser.parse_args()
    from local.emulation import Emulation

    logs = Path(tempfile.mkdtemp(prefix="aios-bench-"))
    with Emulation(api_port=0, function_log_dir=logs) as emu:
        original_invoke = emu.runtime.invoke  # type: ignore[union-attr]

        def counting_invoke(function_name: str, payload: Any = None) -> Any:
            name = emu.runtime.resolve_name(function_name)  # type: ignore[union-attr]
            # The benchmark's own GET /cases polls are not part of running a case.
            _READER.polling = name == "api" and b'"httpMethod": "GET"' in _as_bytes(payload)
            try:
                return original_invoke(function_name, payload)
            finally:
                _READER.polling = False

        emu.runtime.invoke = counting_invoke  # type: ignore[union-attr, method-assign]
        emu._api.invoke = counting_invoke  # type: ignore[union-attr]  # the API server's handle
        processes = _get(f"{emu.api_url}/processes")["processes"]
        example = next(p for p in processes if p["name"] == "ticket-triage")["example_input"]
        run_case(emu.api_url, {**example, "ticket_id": "T-1"})  # warm: cold starts, key fetch
        time.sleep(1)  # let the poller's idle receives settle before counting
        COUNTS.clear()
        actions = 0
        started = time.monotonic()
        for i in range(args.cases):
            case = run_case(emu.api_url, {**example, "ticket_id": f"T-{1000 + i}"})
            assert case["status"] == "SUCCEEDED", case
            actions += len(case["actions"])
        elapsed = time.monotonic() - started
        counts = dict(COUNTS)

    cases = args.cases
    print(f"{cases} cases, {actions} actions ({actions / cases:.0f} per case), {elapsed:.1f} s")
    print(f"\n{'service:operation':<38} {'total':>6} {'/case':>7} {'/action':>8}")
    for name, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        print(f"{name:<38} {n:>6} {n / cases:>7.2f} {n / actions:>8.2f}")

    per_action = actions / cases
    least = sum(LEAST_PER_CASE.values()) + per_action * sum(LEAST_PER_ACTION.values())
    print(
        f"\n{'least the design allows':<38} {'actual /case':>12} {'least /case':>12} {'ratio':>6}"
    )
    for name, n in [
        *LEAST_PER_CASE.items(),
        *((k, v * per_action) for k, v in LEAST_PER_ACTION.items()),
    ]:
        actual = counts.get(name, 0) / cases
        print(f"{name:<38} {actual:>12.2f} {n:>12.2f} {actual / n:>6.2f}")
    # Lambda's own stream polling for the memory indexer is not a billed request in AWS.
    total = sum(n for k, n in counts.items() if not k.startswith("dynamodb-streams:")) / cases
    print(
        f"{'all billed requests (excl. invokes)':<38} {total:>12.2f} {least:>12.2f} {total / least:>6.2f}"
    )


if __name__ == "__main__":
    main()
