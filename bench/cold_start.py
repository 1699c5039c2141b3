"""Cold import time of each handler, the way Lambda's init phase imports it.

Each handler is imported in a fresh interpreter (`python -X importtime`) with the layer on the
path and the environment its function has in the synthesized template (references resolved to
placeholders); no AWS call is made at import. Prints the median wall time of the import over
several runs and the heaviest top-level imports. With `--baseline REF` the same handlers are
also imported from that git commit's `functions/` and `layers/` (exported to a temporary
folder), interleaved run by run with the working tree's so load on the machine hits both alike,
and both medians are printed side by side.

    .venv/bin/python bench/cold_start.py [--runs 5] [--baseline REF]
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",  # Lambda provides credentials; no request is made
    "AWS_SECRET_ACCESS_KEY": "bench",
}


def function_environments() -> dict[str, dict[str, str]]:
    """Each function's environment from a fresh synth of the app."""
    sys.path.insert(0, str(ROOT))
    from local.assembly import load_stack, resolve_value
    from local.emulation import synth

    outdir = Path(tempfile.mkdtemp(prefix="aios-bench-synth-"))
    _, template = load_stack(synth(ROOT, outdir))
    envs = {}
    for resource in template["Resources"].values():
        name = resource.get("Metadata", {}).get("aios:function")
        if name and resource["Type"] == "AWS::Lambda::Function":
            variables = resource["Properties"].get("Environment", {}).get("Variables", {})
            envs[name] = {k: str(v) for k, v in resolve_value(variables, template).items()}
    return dict(sorted(envs.items()))


LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def import_once(
    name: str, function_env: dict[str, str], root: Path = ROOT
) -> tuple[float, list[tuple[int, str]]]:
    code = (
        "import importlib.util, sys;"
        f"sys.path.insert(0, {str(root / 'layers/aios/python')!r});"
        f"s = importlib.util.spec_from_file_location('app', {str(root / 'functions' / name / 'app.py')!r});"
        "m = importlib.util.module_from_spec(s); s.loader.exec_module(m)"
    )
    env = {**os.environ, **ENV, **function_env}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise RuntimeError(f"{name} failed its cold start:\n{done.stderr[-2000:]}")
    out = done.stderr
    top = [(int(m[2]), m[4]) for m in LINE.finditer(out) if len(m[3]) == 1]
    return sum(us for us, _ in top) / 1000, sorted(top, reverse=True)[:5]


def export(ref: str) -> Path:
    """`functions/` and `layers/` of commit `ref`, in a temporary folder (bytecode compiled
    once, as the working tree's is after its first import)."""
    out = Path(tempfile.mkdtemp(prefix="aios-bench-baseline-"))
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "functions", "layers"],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    return out


def baseline_env(function_env: dict[str, str]) -> dict[str, str]:
    """The environment for the baseline's handlers: model prices in the shape before prompt-cache
    rates existed (the only variable whose shape changed since)."""
    prices = function_env.get("AIOS_MODEL_PRICES")
    if not prices:
        return function_env
    plain = {
        model: {k: v for k, v in price.items() if k in ("input_per_mtok", "output_per_mtok")}
        for model, price in json.loads(prices).items()
    }
    return {**function_env, "AIOS_MODEL_PRICES": json.dumps(plain)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline", help="a git commit to compare with (e.g. main)")
    args = parser.parse_args()
    envs = function_environments()
    roots = {"now": ROOT}
    if args.baseline:
        roots = {"before": export(args.baseline), "now": ROOT}
    envs_of = {
        label: {n: baseline_env(e) if label == "before" else e for n, e in envs.items()}
        for label in roots
    }
    for label, root in roots.items():  # the first import writes the bytecode caches
        for name in envs:
            import_once(name, envs_of[label][name], root)
    columns = "".join(f" {label + ' ms':>10}" for label in roots)
    print(f"{'function':<18}{columns} {'min ms':>8}  heaviest imports now (cumulative ms)")
    medians: dict[str, list[float]] = {label: [] for label in roots}
    for name in envs:
        times: dict[str, list[float]] = {label: [] for label in roots}
        last: list[tuple[int, str]] = []
        for _ in range(args.runs):
            for label, root in roots.items():
                took, last_top = import_once(name, envs_of[label][name], root)
                times[label].append(took)
                if label == "now":
                    last = last_top
        heavy = ", ".join(f"{mod} {us / 1000:.0f}" for us, mod in last[:4])
        for label in roots:
            medians[label].append(statistics.median(times[label]))
        cells = "".join(f" {statistics.median(times[label]):>10.0f}" for label in roots)
        print(f"{name:<18}{cells} {min(times['now']):>8.0f}  {heavy}")
    cells = "".join(f" {max(medians[label]):>10.0f}" for label in roots)
    print(f"{'slowest median':<18}{cells}  (target <= 200 ms)")


if __name__ == "__main__":
    main()
