"""Where the emulation's CPU goes, per case: the clients of bench/emulation_load.py, with the
CPU time of every function invocation (the invoking thread's) and of every AWS request moto
serves (its server thread's), divided by the cases finished.

    .venv/bin/python bench/emulation_cpu.py [--clients 1] [--seconds 30]

Prints the process's CPU per case, then per function (CPU ms per case, invocations per case,
mean CPU and wall ms per invocation) and per moto action (CPU ms and requests per case). What
is left of the process's CPU is the Step Functions interpreter, the pollers, the API server
and the clients themselves.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import emulation_load as load  # noqa: E402

_lock = threading.Lock()
function_cpu: collections.Counter[str] = collections.Counter()
function_wall: collections.Counter[str] = collections.Counter()
function_calls: collections.Counter[str] = collections.Counter()
moto_cpu: collections.Counter[str] = collections.Counter()
moto_calls: collections.Counter[str] = collections.Counter()


def _instrument() -> None:
    from moto.moto_server import werkzeug_app

    from local import lambda_runtime

    original_process = lambda_runtime.LambdaRuntime._function_process

    @contextmanager
    def function_process(self: Any, spec: Any, layer_modules: Any) -> Iterator[Any]:
        cpu, wall = time.thread_time(), time.perf_counter()
        with original_process(self, spec, layer_modules) as current:
            yield current
        with _lock:
            function_cpu[spec.name] += time.thread_time() - cpu
            function_wall[spec.name] += time.perf_counter() - wall
            function_calls[spec.name] += 1

    lambda_runtime.LambdaRuntime._function_process = function_process  # type: ignore[method-assign]
    dispatcher = werkzeug_app.DomainDispatcherApplication
    original_call = dispatcher.__call__

    def call(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        cpu = time.thread_time()
        try:
            return original_call(self, environ, start_response)
        finally:
            auth = environ.get("HTTP_AUTHORIZATION", "")
            service = auth.split("/")[3] if auth.count("/") >= 3 else "?"
            target = (environ.get("HTTP_X_AMZ_TARGET") or "").rpartition(".")[2]
            action = target or environ.get("PATH_INFO", "")[:40]
            with _lock:
                moto_cpu[f"{service}:{action}"] += time.thread_time() - cpu
                moto_calls[f"{service}:{action}"] += 1

    dispatcher.__call__ = call  # type: ignore[method-assign]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    _instrument()
    from local.emulation import Emulation

    stats = load.Stats()
    with Emulation(api_port=0, function_log_dir=Path(tempfile.mkdtemp())) as emu:
        processes = load._request(*load._host_port(emu.api_url), "GET", "/processes")
        example = next(p for p in processes["processes"] if p["name"] == "ticket-triage")
        load.client(emu.api_url, example["example_input"], 0, time.monotonic() + 0.1, stats)
        for counter in (function_cpu, function_wall, function_calls, moto_cpu, moto_calls):
            counter.clear()
        stats = load.Stats()
        cpu, started = time.process_time(), time.monotonic()
        until = started + args.seconds
        threads = [
            threading.Thread(
                target=load.client,
                args=(emu.api_url, example["example_input"], n + 1, until, stats),
            )
            for n in range(args.clients)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
    n = max(1, len(stats.cases))
    print(
        f"{args.clients} clients, {elapsed:.1f} s: {len(stats.cases)} cases "
        f"({len(stats.cases) / elapsed:.2f}/s); process CPU {cpu:.1f} s = {cpu / n * 1e3:.0f} ms/case"
    )
    print("function             cpu ms/case  calls/case  cpu ms/call  wall ms/call")
    for name, seconds in function_cpu.most_common():
        calls = function_calls[name]
        print(
            f"  {name:20s} {seconds / n * 1e3:9.0f} {calls / n:11.1f} "
            f"{seconds / calls * 1e3:12.1f} {function_wall[name] / calls * 1e3:13.1f}"
        )
    print(f"  all functions        {sum(function_cpu.values()) / n * 1e3:9.0f}")
    print("moto action                          cpu ms/case  requests/case")
    for key, seconds in moto_cpu.most_common(15):
        print(f"  {key:36s} {seconds / n * 1e3:9.1f} {moto_calls[key] / n:13.1f}")
    print(
        f"  all of moto                          {sum(moto_cpu.values()) / n * 1e3:9.0f} "
        f"{sum(moto_calls.values()) / n:13.0f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
