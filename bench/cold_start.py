"""Cold import time of each handler, the way Lambda's init phase imports it.

Each handler is imported in a fresh interpreter with the layer on the path and the environment
its function has in the synthesized template (references resolved to placeholders); no AWS call
is made at import. A run measures, inside the child, the wall time and the CPU time (user + sys,
`time.process_time`) of the handler's import alone, and, in the parent, the child's whole CPU
time (`os.wait4`'s rusage: interpreter start-up included). On a shared machine the wall time
follows the load; the CPU time much less, so it is the figure to compare.

Prints, per handler, the median of `--runs` runs of each figure and the heaviest top-level
imports (cumulative ms, from one extra `python -X importtime` run, which inflates them). With
`--baseline REF` the same handlers are also imported from that git commit's `functions/` and
`layers/` (exported to a temporary folder, bytecode compiled once as the working tree's is),
interleaved run by run with the working tree's so load on the machine hits both alike, and
before, now and now/before are printed side by side.

    .venv/bin/python bench/cold_start.py [--runs 15] [--baseline REF] [--only execute,api]
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
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",  # Lambda provides credentials; no request is made
    "AWS_SECRET_ACCESS_KEY": "bench",
}
TARGET_MS = 200
PYCACHE = tempfile.mkdtemp(prefix="aios-bench-pycache-")
# The child: import the handler as Lambda's bootstrap does, print wall and CPU ms of the import.
CHILD = """
import sys, time
t0, c0 = time.perf_counter(), time.process_time()
import importlib.util
sys.path.insert(0, {layer!r})
s = importlib.util.spec_from_file_location('app', {app!r})
m = importlib.util.module_from_spec(s); s.loader.exec_module(m)
print((time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000)
"""


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


@dataclass
class Sample:
    """The medians' inputs of one handler from one root."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    process_cpu: list[float] = field(default_factory=list)


def child_code(name: str, root: Path) -> str:
    return CHILD.format(
        layer=str(root / "layers/aios/python"), app=str(root / "functions" / name / "app.py")
    )


def child_env(function_env: dict[str, str]) -> dict[str, str]:
    env = {**os.environ, **ENV, **function_env, "PYTHONPYCACHEPREFIX": PYCACHE}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def import_once(name: str, function_env: dict[str, str], root: Path, sample: Sample) -> None:
    """One cold import of handler `name` from `root`, its figures appended to `sample`."""
    env = child_env(function_env)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(
            [sys.executable, "-c", child_code(name, root)], env=env, stdout=out, stderr=err
        )
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if child.returncode:
            raise RuntimeError(f"{name} failed its cold start:\n{err.read()[-2000:].decode()}")
        wall, cpu = map(float, out.read().split())
    sample.wall.append(wall)
    sample.cpu.append(cpu)
    sample.process_cpu.append((usage.ru_utime + usage.ru_stime) * 1000)


LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def heaviest(name: str, function_env: dict[str, str], root: Path = ROOT) -> str:
    """The heaviest top-level imports of the handler (cumulative ms under -X importtime)."""
    env = child_env(function_env)
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", child_code(name, root)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    top = [(int(m[2]), m[4]) for m in LINE.finditer(done.stderr) if len(m[3]) == 1]
    return ", ".join(f"{mod} {us / 1000:.0f}" for us, mod in sorted(top, reverse=True)[:4])


def export(ref: str) -> Path:
    """`functions/` and `layers/` of commit `ref`, in a temporary folder."""
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


def cells(samples: dict[str, Sample], metric: str) -> str:
    medians = [statistics.median(getattr(s, metric)) for s in samples.values()]
    text = "".join(f" {m:>6.0f}" for m in medians)
    if len(medians) == 2:
        text += f" {medians[1] / medians[0]:>5.2f}"
    return text


def header(labels: list[str]) -> str:
    group = "".join(f" {label:>6}" for label in labels) + (" ratio" if len(labels) == 2 else "")
    width = len(group)
    names = f"{'import wall ms':>{width}} |{'import CPU ms':>{width}} |{'process CPU ms':>{width}}"
    return f"{'':<18}{names}\n{'function':<18}{group} |{group} |{group}  heaviest imports now"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--baseline", help="a git commit to compare with (e.g. 11ac3a2)")
    parser.add_argument("--only", help="comma-separated handler names (default: all)")
    args = parser.parse_args()
    envs = function_environments()
    if args.only:
        envs = {name: envs[name] for name in args.only.split(",")}
    roots = {"now": ROOT}
    if args.baseline:
        roots = {"before": export(args.baseline), "now": ROOT}
    envs_of = {
        label: {n: baseline_env(e) if label == "before" else e for n, e in envs.items()}
        for label in roots
    }
    for label, root in roots.items():  # the first import writes the bytecode caches
        for name in envs:
            import_once(name, envs_of[label][name], root, Sample())
    print(f"median of {args.runs} cold imports per handler; load average {os.getloadavg()[0]:.1f}")
    print(header(list(roots)))
    slowest: dict[str, list[float]] = {label: [] for label in roots}
    for name in envs:
        samples = {label: Sample() for label in roots}
        for _ in range(args.runs):
            for label, root in roots.items():
                import_once(name, envs_of[label][name], root, samples[label])
        for label in roots:
            slowest[label].append(statistics.median(samples[label].cpu))
        row = " |".join(cells(samples, m) for m in ("wall", "cpu", "process_cpu"))
        print(f"{name:<18}{row}  {heaviest(name, envs_of['now'][name])}", flush=True)
    worst = ", ".join(f"{label} {max(v):.0f} ms" for label, v in slowest.items())
    load = os.getloadavg()[0]
    print(f"slowest median import CPU: {worst} (target <= {TARGET_MS} ms); load average {load:.1f}")


if __name__ == "__main__":
    main()
