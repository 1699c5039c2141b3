"""A short chaos run on the suite's emulation (bench/chaos.py; `make chaos` runs 1,000 cases):
cases under random faults (crashes, redeliveries, KMS/DynamoDB throttling and 5xx, model and
outside-system failures, racing approval clicks), then every invariant checked from what
happened, budgets included (that each check can fail: tests/unit/test_chaos_invariants.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import chaos

from local import faults

pytestmark = pytest.mark.slow

# ≈100 as issue 17 asks; `make chaos` runs 1,000. On this machine (2 cores, load 18-27) the
# run took 164 s at 24 cases and 550 s at 100, but 58 s and 143 s of CPU for the whole test:
# the 76 more cases cost 85 s of CPU, about what they add on an idle machine (one process,
# one core busy; the clients' waits overlap), within the suite's budget (README, Chaos).
CASES = 100
SEED = 1717


def test_a_short_chaos_run_keeps_every_invariant(emulation: Any) -> None:
    report = chaos.run_chaos(emulation, CASES, SEED, clients=6, fault_rate=0.15, settle_s=900)
    print("\n".join(report.lines()))
    assert not report.violations, "\n".join(report.lines())
    assert len(report.cases) == CASES
    assert sum(report.injected.values()) >= 5, report.injected  # the nemesis did strike
    # The functions' own DynamoDB requests were failed too (tens of requests a case).
    assert any(kind.startswith("dynamodb_") for kind in report.injected), report.injected
    assert "  held     no budget overspent" in report.lines()  # checked, and it held
    # The nemesis is gone afterwards: the emulation serves the next test as before.
    routes = [emulation._api.invoke, *(p.invoke for p in emulation.pollers)]
    assert all(route.__name__ != "faulty_invoke" for route in routes), routes
    assert not isinstance(emulation._moto._server.app, faults.AwsFaults)
