"""A short chaos run on the suite's emulation (bench/chaos.py; `make chaos` runs 1,000 cases):
cases under random faults, then every invariant checked from what happened (that each check
can fail: tests/unit/test_chaos_invariants.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import chaos

from local import faults

pytestmark = pytest.mark.slow

CASES = 24  # a handful of each approval race among them; `make chaos` runs 1,000
SEED = 1717


def test_a_short_chaos_run_keeps_every_invariant(emulation: Any) -> None:
    report = chaos.run_chaos(emulation, CASES, SEED, clients=6, fault_rate=0.15, settle_s=240)
    print("\n".join(report.lines()))
    assert not report.violations, "\n".join(report.lines())
    assert len(report.cases) == CASES
    assert sum(report.injected.values()) >= 5, report.injected  # the nemesis did strike
    # The functions' own DynamoDB requests were failed too (tens of requests a case).
    assert any(kind.startswith("dynamodb_") for kind in report.injected), report.injected
    assert "  held     no budget overspent" in report.lines()  # checked, and it held
    # The nemesis is gone afterwards: the emulation serves the next test as before.
    assert emulation.runtime.invoke.__name__ != "faulty_invoke"
    assert not isinstance(emulation._moto._server.app, faults.AwsFaults)
