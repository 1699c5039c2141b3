"""Cold import time of each handler, the way Lambda's init phase imports it.

Each handler is imported in a fresh interpreter (`python -X importtime`) with the layer on the
path and the environment its function has in the synthesized template (references resolved to
placeholders); no AWS call is made at import. Prints the median wall time of the import over
several runs and the heaviest top-level imports.

    .venv/bin/python bench/cold_start.py [--runs 5]
"""

from __future__ import annotations

import argparse
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


def import_once(name: str, function_env: dict[str, str]) -> tuple[float, list[tuple[int, str]]]:
    code = (
        "import importlib.util, sys;"
        f"sys.path.insert(0, {str(ROOT / 'layers/aios/python')!r});"
        f"s = importlib.util.spec_from_file_location('app', {str(ROOT / 'functions' / name / 'app.py')!r});"
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    envs = function_environments()
    print(f"{'function':<18} {'median ms':>10} {'min ms':>8}  heaviest imports (cumulative ms)")
    for name, function_env in envs.items():
        runs = [import_once(name, function_env) for _ in range(args.runs)]
        times = [t for t, _ in runs]
        heavy = ", ".join(f"{mod} {us / 1000:.0f}" for us, mod in runs[-1][1][:4])
        print(f"{name:<18} {statistics.median(times):>10.0f} {min(times):>8.0f}  {heavy}")


if __name__ == "__main__":
    main()
