"""The chaos harness's invariant checks can fail: lost cases, two bodies under one idempotency
key, one business key under two keys, a broken chain and a silent failure are all reported."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import chaos  # noqa: E402


@dataclass
class Request:
    status: int
    idempotency_key: str | None
    body: str
    path: str = "/helpdesk/tickets"


class Receiver:
    def __init__(self, requests: list[Request]) -> None:
        self.requests = requests


class Emu:
    api_url = "http://unused"

    def __init__(self, requests: list[Request]) -> None:
        self.receiver = Receiver(requests)


def _check(
    monkeypatch: Any, final: dict[str, Any], requests: list[Request], valid: bool
) -> list[str]:
    monkeypatch.setattr(
        chaos, "_request", lambda *_: (200, {"chain": {"valid": valid, "length": 1}})
    )
    cases = {case_id: f"T-{n}" for n, case_id in enumerate(final)}
    return chaos._invariants(Emu(requests), cases, final)


def test_a_clean_run_holds(monkeypatch: Any) -> None:
    final = {"c0": {"status": "SUCCEEDED", "actions": [{"status": "APPLIED"}]}}
    requests = [Request(200, "k1", '{"ticket": "T-0"}'), Request(200, "k1", '{"ticket": "T-0"}')]
    assert _check(monkeypatch, final, requests, valid=True) == []


def test_each_violation_is_reported(monkeypatch: Any) -> None:
    final = {
        "c0": {"status": "SUCCEEDED", "actions": []},
        "c1": None,
        "c2": {"status": "FAILED", "actions": [], "error": None},
    }
    requests = [
        Request(200, "k1", '{"ticket": "T-0", "n": 1}'),
        Request(200, "k1", '{"ticket": "T-0", "n": 2}'),
        Request(200, "k2", '{"ticket": "T-0", "n": 1}'),
    ]
    violations = _check(monkeypatch, final, requests, valid=False)
    kinds = {v.split(":")[0] for v in violations}
    assert kinds == set(chaos.INVARIANTS)
    assert any("k1 stored 2 bodies" in v for v in violations)
    assert any("under 2 keys" in v for v in violations)
