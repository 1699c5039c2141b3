"""Agreement of shadow decisions with their labels, per field, and the report `aios eval` prints.

Per case and field:

- classification agrees when every labelled field equals the candidate's;
- actions agree when the candidate proposes the labelled capabilities in the labelled order,
  each with the labelled params as a subset of its own (or hands off for the labelled reason);
- gates agree when the actions agree in number and every labelled gate is the candidate's.

A field a label does not give is not counted. Agreement of a field is the share of agreeing
cases among those labelled for it; overall agreement is the share of cases agreeing on every
labelled field, the figure `--min-agreement` gates on.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from aios.evaluation.examples import Expected
from aios.evaluation.shadow import ShadowDecision

FIELDS = ("classification", "actions", "gates")


def _contains(got: Any, want: Any) -> bool:
    """True when `want` is `got`, or (for objects) a subset of it, recursively."""
    if isinstance(want, dict):
        return isinstance(got, dict) and all(
            k in got and _contains(got[k], v) for k, v in want.items()
        )
    return bool(got == want)


@dataclass(frozen=True)
class CaseResult:
    name: str
    decision: ShadowDecision
    agree: dict[str, bool]
    """field -> agrees, for the fields the label gives."""
    disagreements: list[str]

    @property
    def agrees(self) -> bool:
        return all(self.agree.values())


def compare(name: str, expected: Expected, got: ShadowDecision) -> CaseResult:
    """How the candidate's decision for one case stands against its label."""
    agree: dict[str, bool] = {}
    notes: list[str] = []
    if expected.classification:
        mine = got.classification or {}
        wrong = {k: v for k, v in expected.classification.items() if mine.get(k) != v}
        agree["classification"] = not wrong
        notes += [
            f"classification.{k}: expected {v!r}, got {mine.get(k)!r}" for k, v in wrong.items()
        ]
    if expected.handoff is not None or expected.actions is not None:
        agree["actions"], why = _actions_agree(expected, got)
        notes += why
    gates = [(i, a.gate) for i, a in enumerate(expected.actions or []) if a.gate is not None]
    if gates:
        same_count = len(got.actions) == len(expected.actions or [])
        wrong_gates = [(i, g) for i, g in gates if not same_count or got.actions[i]["gate"] != g]
        agree["gates"] = not wrong_gates
        notes += [
            f"gate of action {i}: expected {g!r}, got "
            f"{got.actions[i]['gate'] if same_count else 'no such action'!r}"
            for i, g in wrong_gates
        ]
    return CaseResult(name, got, agree, notes)


def _actions_agree(expected: Expected, got: ShadowDecision) -> tuple[bool, list[str]]:
    if expected.handoff is not None or got.handoff is not None:
        ok = expected.handoff == got.handoff
        return ok, [] if ok else [f"handoff: expected {expected.handoff!r}, got {got.handoff!r}"]
    want = expected.actions or []
    if [a.capability for a in want] != [a["capability"] for a in got.actions]:
        return False, [
            f"actions: expected {[a.capability for a in want]}, "
            f"got {[a['capability'] for a in got.actions]}"
        ]
    notes = [
        f"params of action {i} ({a.capability}): expected to contain {a.params}, "
        f"got {got.actions[i]['params']}"
        for i, a in enumerate(want)
        if a.params is not None and not _contains(got.actions[i]["params"], a.params)
    ]
    return not notes, notes


@dataclass
class EvalReport:
    process: str
    source: str
    candidate: dict[str, str]
    provider: str
    results: list[CaseResult] = field(default_factory=list)

    def agreement(self, name: str | None = None) -> float | None:
        """Share of agreeing cases for one field, or on every field (None: nothing labelled)."""
        if name is None:
            return sum(r.agrees for r in self.results) / len(self.results) if self.results else None
        counted = [r.agree[name] for r in self.results if name in r.agree]
        return sum(counted) / len(counted) if counted else None

    def _counts(self, name: str | None) -> tuple[int, int]:
        if name is None:
            return sum(r.agrees for r in self.results), len(self.results)
        counted = [r.agree[name] for r in self.results if name in r.agree]
        return sum(counted), len(counted)

    def totals(self) -> dict[str, Any]:
        usage = [r.decision.usage for r in self.results]
        latencies = sorted(r.decision.latency_ms for r in self.results if r.decision.usage)
        p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))] if latencies else 0.0
        cost = sum(float(u.get("cost_usd", 0.0)) for u in usage)
        decided = [r.decision for r in self.results if r.decision.handoff is None]
        return {
            "violations": sum(len(r.decision.violations) for r in self.results),
            "handoffs": sum(r.decision.handoff is not None for r in self.results),
            "approvals": sum(any(a["gate"] == "approve" for a in d.actions) for d in decided),
            "automatic": sum(all(a["gate"] == "auto" for a in d.actions) for d in decided),
            "cost_usd_per_case": round(cost / len(self.results), 6) if self.results else 0.0,
            "calls": sum(int(u.get("calls", 0)) for u in usage),
            "input_tokens": sum(int(u.get("input_tokens", 0)) for u in usage),
            "output_tokens": sum(int(u.get("output_tokens", 0)) for u in usage),
            "cost_usd": round(cost, 6),
            "latency_ms_p50": round(statistics.median(latencies), 2) if latencies else 0.0,
            "latency_ms_p95": round(p95, 2),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "process": self.process,
            "source": self.source,
            "provider": self.provider,
            "candidate": self.candidate,
            "cases": len(self.results),
            "agreement": {
                name or "overall": {
                    "agree": self._counts(name)[0],
                    "of": self._counts(name)[1],
                    "rate": self.agreement(name),
                }
                for name in (*FIELDS, None)
            },
            **self.totals(),
            "disagreements": [
                {
                    "case": r.name,
                    "fields": sorted(k for k, v in r.agree.items() if not v),
                    "detail": r.disagreements,
                }
                for r in self.results
                if not r.agrees
            ],
            "violations_detail": [
                {"case": r.name, "violations": r.decision.violations}
                for r in self.results
                if r.decision.violations
            ],
        }

    def table(self) -> str:
        """The report as `aios eval` prints it."""
        candidate = ", ".join(f"{k}={v}" for k, v in self.candidate.items()) or "the current spec"
        lines = [
            f"aios eval {self.process}: {len(self.results)} cases from {self.source}, "
            f"provider {self.provider}, candidate: {candidate}",
            "",
            f"{'agreement':<24}{'agree':>7}{'of':>5}{'rate':>9}",
        ]
        for name in (*FIELDS, None):
            agree, of = self._counts(name)
            rate = self.agreement(name)
            shown = f"{rate:.1%}" if rate is not None else "-"
            lines.append(f"{name or 'all fields':<24}{agree:>7}{of:>5}{shown:>9}")
        t = self.totals()
        lines += [
            "",
            f"{'constraint violations':<24}{t['violations']:>7}",
            f"{'handoffs':<24}{t['handoffs']:>7}",
            f"{'waiting for approval':<24}{t['approvals']:>7}",
            f"{'fully automatic':<24}{t['automatic']:>7}",
            f"{'model calls':<24}{t['calls']:>7}",
            f"{'tokens in / out':<24}{t['input_tokens']:>7} / {t['output_tokens']}",
            f"{'cost USD':<24}{t['cost_usd']:>12.6f}",
            f"{'cost USD per case':<24}{t['cost_usd_per_case']:>12.6f}",
            f"{'latency ms p50 / p95':<24}{t['latency_ms_p50']:>7} / {t['latency_ms_p95']}",
        ]
        failing = [r for r in self.results if not r.agrees]
        lines += ["", f"disagreements: {len(failing)}"]
        for r in failing:
            lines += [f"- {r.name}: {note}" for note in r.disagreements]
        flagged = [r for r in self.results if r.decision.violations]
        if flagged:
            lines += ["", "constraint violations:"]
            lines += [f"- {r.name}: {v}" for r in flagged for v in r.decision.violations]
        return "\n".join(lines)
