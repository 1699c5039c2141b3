"""Chaos: many cases through the emulation while a nemesis injects faults at random, then the
invariants, checked from what actually happened (the API's read model, the audit chains, the
outside receiver).

The nemesis (seeded, so a run reproduces with its seed):

- `crash_before`: a decide/execute/finalize invocation fails before its handler runs;
- `crash_after`: the handler runs (its side effects happen), then the invocation fails, so the
  caller (Step Functions' Retry, the SQS redrive) delivers it again;
- `duplicate`: an execute delivery (SQS batch) is invoked twice;
- `delay`: an invocation waits 0-300 ms before it runs (late delivery);
- `throttle`: a KMS or DynamoDB request a handler makes is answered `ThrottlingException` /
  `ProvisionedThroughputExceededException` (the SDK's retries must absorb it);
- `receiver_5xx`: the outside system answers 503 to the next request of a case (it does not
  store it).

Invariants after the run settles:

- no case lost: every case is terminal (`SUCCEEDED`, `FAILED`, `HANDED_OFF`) or visibly waiting
  (`WAITING_APPROVAL`) before the deadline;
- no duplicate side effect: every request the outside system stored for one idempotency key has
  the same body, and one business key (the ticket) got its side effects under one set of keys;
- every audit chain verifies;
- every failed case says why (its actions carry a status and the case a reason or error).

    .venv/bin/python bench/chaos.py [--cases 100] [--seed N] [--clients 8] [--fault-rate 0.1]

Exit status 1 on any violation, with the seed to reproduce it.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import botocore.awsrequest
import botocore.session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TERMINAL = ("SUCCEEDED", "FAILED", "HANDED_OFF", "WAITING_APPROVAL")
FAULTY_FUNCTIONS = ("decide", "execute", "finalize")


class Nemesis:
    def __init__(self, seed: int, rate: float) -> None:
        self.random = random.Random(seed)
        self.rate = rate
        self.lock = threading.Lock()
        self.injected: collections.Counter[str] = collections.Counter()
        self.enabled = False

    def pick(self, kinds: tuple[str, ...]) -> str | None:
        with self.lock:
            if not self.enabled or self.random.random() >= self.rate:
                return None
            kind = self.random.choice(kinds)
            self.injected[kind] += 1
            return kind

    def delay(self) -> float:
        with self.lock:
            return self.random.uniform(0, 0.3)


NEMESIS = Nemesis(0, 0.0)
_THROTTLE = {
    "kms": ("ThrottlingException", "application/x-amz-json-1.1"),
    "dynamodb": ("ProvisionedThroughputExceededException", "application/x-amz-json-1.0"),
}
_original_init = botocore.session.Session.__init__


def _throttle(event_name: str = "", request: Any = None, **_: Any) -> Any:
    service = event_name.split(".")[1] if event_name.count(".") >= 2 else ""
    if service not in _THROTTLE:
        return None
    # Only requests a handler makes (functions run on the invoking thread; see faulty_invoke).
    if not getattr(_FUNCTION, "active", False) or NEMESIS.pick(("throttle",)) is None:
        return None
    code, content_type = _THROTTLE[service]
    body = json.dumps({"__type": code, "message": "injected by the chaos nemesis"}).encode()
    return botocore.awsrequest.AWSResponse(
        request.url, 400, {"Content-Type": content_type, "x-amzn-ErrorType": code}, _Raw(body)
    )


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body

    def read(self, *_: Any) -> bytes:
        return self.body


_FUNCTION = threading.local()


def _hooked_init(self: botocore.session.Session, *args: Any, **kwargs: Any) -> None:
    _original_init(self, *args, **kwargs)
    self.register("before-send", _throttle)




def faulty(invoke: Any, runtime: Any) -> Any:
    """The runtime's invoke with the nemesis in front of the flow's functions."""

    def faulty_invoke(function_name: str, payload: Any = None) -> Any:
        from local.lambda_runtime import _error_result

        name = runtime.resolve_name(function_name)
        if name not in FAULTY_FUNCTIONS:
            return invoke(function_name, payload)
        kinds = ("crash_before", "crash_after", "delay") + (
            ("duplicate",) if name == "execute" else ()
        )
        kind = NEMESIS.pick(kinds)
        if kind == "crash_before":
            return _error_result("ChaosCrash", "crashed before the handler ran", "chaos")
        if kind == "delay":
            time.sleep(NEMESIS.delay())
        _FUNCTION.active = True
        try:
            result = invoke(function_name, payload)
            if kind == "duplicate":
                result = invoke(function_name, payload)
        finally:
            _FUNCTION.active = False
        if kind == "crash_after":
            return _error_result("ChaosCrash", "crashed after the handler ran", "chaos")
        return result

    return faulty_invoke


def _request(api: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    split = urlsplit(api)
    conn = http.client.HTTPConnection(split.hostname or "127.0.0.1", split.port or 80, timeout=60)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()


def run(args: argparse.Namespace) -> int:
    from local.emulation import Emulation

    global NEMESIS
    NEMESIS = Nemesis(args.seed, args.fault_rate)
    # Every botocore session made from now on (the handlers' too) gets the throttling hook.
    botocore.session.Session.__init__ = _hooked_init  # type: ignore[method-assign]
    rng = random.Random(args.seed + 1)
    started = time.monotonic()
    logs = Path(tempfile.mkdtemp(prefix="aios-chaos-"))
    with Emulation(api_port=0, function_log_dir=logs) as emu:
        runtime = emu.runtime
        assert runtime is not None
        invoke = faulty(runtime.invoke, runtime)
        runtime.invoke = invoke  # type: ignore[method-assign]
        emu._api.invoke = invoke  # type: ignore[union-attr]
        from local import moto_patches

        moto_patches.apply(emu._moto_port, invoke)  # type: ignore[arg-type]
        for poller in emu.pollers:
            poller.invoke = invoke
        _, listing = _request(emu.api_url, "GET", "/processes")
        example = next(p for p in listing["processes"] if p["name"] == "ticket-triage")
        NEMESIS.enabled = True
        cases: dict[str, str] = {}  # case id -> ticket
        lock = threading.Lock()
        numbers = iter(range(args.cases))

        def client() -> None:
            for n in numbers:
                ticket = f"T-{args.seed % 100000:05d}{n:05d}"
                body = {**example["example_input"], "ticket_id": ticket}
                if rng.random() < 0.1:
                    emu.receiver.inject_faults(503, 1, path_contains=ticket)
                    NEMESIS.injected["receiver_5xx"] += 1
                status, answer = _request(
                    emu.api_url, "POST", "/processes/ticket-triage/cases", body
                )
                if status != 202:
                    raise AssertionError(f"submit {ticket}: {status} {answer}")
                with lock:
                    cases[answer["case_id"]] = ticket

        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        final = _settle(emu.api_url, cases, deadline=time.monotonic() + args.settle)
        NEMESIS.enabled = False
        violations = _invariants(emu, cases, final)
        received = len(emu.receiver.requests)
    wall = time.monotonic() - started
    statuses = collections.Counter(case["status"] if case else "LOST" for case in final.values())
    print(f"chaos seed {args.seed}: {len(cases)} cases, {wall:.0f} s wall")
    print(f"faults injected  {dict(sorted(NEMESIS.injected.items()))}")
    print(f"case statuses    {dict(statuses)}")
    print(f"outside requests {received}")
    for name in INVARIANTS:
        held = not any(v.startswith(name) for v in violations)
        print(f"  {'held    ' if held else 'VIOLATED'} {name}")
    for case_id, case in final.items():
        if case and case["status"] == "FAILED":
            print(f"  failed {case_id}: {json.dumps(case.get('error'))[:160]}")
    for violation in violations[:20]:
        print(f"    {violation}")
    if violations:
        print(f"FAILED: {len(violations)} violations; reproduce with --seed {args.seed}")
        return 1
    print("all invariants held")
    return 0


INVARIANTS = (
    "no case lost",
    "no duplicate side effect",
    "audit chain verifies",
    "rejection recorded",
)


def _settle(api: str, cases: dict[str, str], deadline: float) -> dict[str, Any]:
    final: dict[str, Any] = dict.fromkeys(cases)
    pending = set(cases)
    while pending and time.monotonic() < deadline:
        for case_id in list(pending):
            status, case = _request(api, "GET", f"/cases/{case_id}")
            if status == 200 and case["status"] in TERMINAL:
                final[case_id] = case
                pending.discard(case_id)
        time.sleep(0.5)
    return final


def _invariants(emu: Any, cases: dict[str, str], final: dict[str, Any]) -> list[str]:
    violations = []
    for case_id, case in final.items():
        if case is None:
            violations.append(f"no case lost: {case_id} ({cases[case_id]}) not settled")
            continue
        _, audit = _request(emu.api_url, "GET", f"/cases/{case_id}/audit")
        if not audit["chain"]["valid"]:
            violations.append(f"audit chain verifies: {case_id} {audit['chain']}")
        failed = case["status"] == "FAILED"
        if failed and not (case.get("error") or any(a.get("status") for a in case["actions"])):
            violations.append(f"rejection recorded: {case_id} failed without a reason")
    bodies: dict[str, set[str]] = collections.defaultdict(set)
    keys_by_ticket: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
    for request in emu.receiver.requests:
        if request.status != 200 or not request.idempotency_key:
            continue
        bodies[request.idempotency_key].add(request.body)
        ticket = next((t for t in cases.values() if t in request.body), None)
        if ticket:
            keys_by_ticket[(ticket, request.path)].add(request.idempotency_key)
    for key, distinct in bodies.items():
        if len(distinct) > 1:
            violations.append(f"no duplicate side effect: key {key} stored {len(distinct)} bodies")
    for (ticket, path), keys in keys_by_ticket.items():
        if len(keys) > 1:
            violations.append(f"no duplicate side effect: {ticket} {path} under {len(keys)} keys")
    return violations


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--fault-rate", type=float, default=0.1)
    parser.add_argument("--settle", type=float, default=600.0, help="seconds for cases to settle")
    return run(parser.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
