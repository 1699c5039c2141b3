"""Cold import time of each handler, the way Lambda's init phase imports it.

Each handler is imported in a fresh interpreter (`python -X importtime`) with the layer on the
path and a dummy environment; no AWS call is made at import. Prints the median wall time of
the import over several runs and the heaviest top-level imports.

    .venv/bin/python bench/cold_start.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ["api", "decide", "execute", "finalize"]
ENV = {
    "AIOS_LEDGER_TABLE": "ledger",
    "AIOS_IDEMPOTENCY_TABLE": "idempotency",
    "AIOS_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:case",
    "AIOS_PLAN_KEY_ID": "arn:aws:kms:us-east-1:123456789012:key/k",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "AIOS",
}
LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def import_once(name: str) -> tuple[float, list[tuple[int, str]]]:
    code = (
        "import importlib.util, sys;"
        f"sys.path.insert(0, {str(ROOT / 'layers/aios/python')!r});"
        f"s = importlib.util.spec_from_file_location('app', {str(ROOT / 'functions' / name / 'app.py')!r});"
        "m = importlib.util.module_from_spec(s); s.loader.exec_module(m)"
    )
    env = {**os.environ, **ENV, "POWERTOOLS_SERVICE_NAME": f"aios-{name}"}
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], env=env, capture_output=True, text=True, check=True
    ).stderr
    top = [(int(m[2]), m[4]) for m in LINE.finditer(out) if len(m[3]) == 1]
    return sum(us for us, _ in top) / 1000, sorted(top, reverse=True)[:5]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"{'function':<10} {'median ms':>10} {'min ms':>8}  heaviest imports (cumulative ms)")
    for name in FUNCTIONS:
        runs = [import_once(name) for _ in range(args.runs)]
        times = [t for t, _ in runs]
        heavy = ", ".join(f"{mod} {us / 1000:.0f}" for us, mod in runs[-1][1][:4])
        print(f"{name:<10} {statistics.median(times):>10.0f} {min(times):>8.0f}  {heavy}")


if __name__ == "__main__":
    main()
