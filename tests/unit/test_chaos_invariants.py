"""The chaos harness's invariant checks can fail: a lost case, a silent failure, one business
key under two idempotency keys, a broken chain, two accepted clicks on one approval link and a
refund made on a rejected approval are all reported; clean results hold."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import chaos


@dataclass
class _Request:
    path: str
    body: str
    idempotency_key: str
    status: int = 200


def _case(status: str = "SUCCEEDED", actions: list[dict[str, Any]] | None = None) -> Any:
    return {"status": status, "actions": actions or [], "error": None}


def test_each_invariant_check_finds_its_violation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chaos, "_request", lambda *a, **k: (200, {"chain": {"valid": True}}))
    cases = {"c1": "T-1", "c2": "O-2"}
    lost = chaos._invariants("", cases, {"c1": None, "c2": _case()}, [])
    assert lost and lost[0].startswith("no case lost")
    silent = chaos._invariants("", cases, {"c1": _case("FAILED"), "c2": _case()}, [])
    assert silent and silent[0].startswith("rejection recorded")
    twice = [
        _Request("/helpdesk/tickets/T-1/triage", "a", "k1"),
        _Request("/helpdesk/tickets/T-1/triage", "a", "k2"),
    ]
    dup = chaos._invariants("", cases, {"c1": _case(), "c2": _case()}, twice)
    assert dup and dup[0].startswith("no duplicate side effect")
    clean = [_Request("/helpdesk/tickets/T-1/triage", "a", "k1")] * 2
    assert chaos._invariants("", cases, {"c1": _case(), "c2": _case()}, clean) == []
    monkeypatch.setattr(chaos, "_request", lambda *a, **k: (200, {"chain": {"valid": False}}))
    broken = chaos._invariants("", cases, {"c1": _case(), "c2": _case()}, [])
    assert broken and broken[0].startswith("audit chain verifies")

    both = chaos.Clicks("approval_race", [("approve", 200), ("reject", 200), ("approve", 409)])
    applied = _case(actions=[{"status": "APPLIED"}])
    refund = [_Request("/helpdesk/refunds/O-2", "r", "k3")]
    racing = chaos._approvals(cases, {"c2": both}, {"c2": applied}, refund)
    assert racing and racing[0].startswith("approval decided once")
    rejected = chaos.Clicks("approval_race", [("reject", 200), ("approve", 409)])
    unheard = chaos._approvals(cases, {"c2": rejected}, {"c2": applied}, refund)
    assert unheard and unheard[0].startswith("approval decided once")
    skipped = _case(actions=[{"status": "SKIPPED", "error": {"code": "APPROVAL_REJECTED"}}])
    assert chaos._approvals(cases, {"c2": rejected}, {"c2": skipped}, []) == []
