"""The decision-quality KPIs over a set of cases: pure arithmetic on `CaseFacts`.

Per process, and per (model id, prompt version) within it. A rate whose denominator is zero
is None (shown as "-"), never 0: no approvals is not a 0% acceptance.

| KPI | formula |
| --- | --- |
| acceptance_rate | approvals approved ÷ (approved + rejected + changes requested) |
| auto_applied_share | actions applied on a policy attestation (no person) ÷ actions proposed |
| rollback_rate | applied actions later compensated or reverted ÷ actions applied |
| time_to_human_p50_s / _p90_s | seconds from case received to its first human step |
|   | (approval decision, operator move), over the cases that had one; nearest rank |
| human_intervention_rate | cases with any human step ÷ cases |
| handoff_rate | cases handed to a person ÷ cases; `handoff_rate_by_reason` per reason |
| model_cost_per_case_usd | model cost of every decision of the cases ÷ cases (infrastructure cost is not included) |
| cache_hit_rate | model-output cache hits ÷ (hits + misses) |

Action KPIs (acceptance, auto share, rollback) are attributed to the model and prompt version
that proposed each action; case KPIs to those of the case's latest decision.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from aios.kpis.facts import Attribution, CaseFacts

ALL = "*"


class KpiRow(BaseModel):
    """The KPIs of one process (model_id = prompt_version = "*") or one of its model+prompt."""

    process: str
    model_id: str
    prompt_version: str
    cases: int = 0
    actions_proposed: int = 0
    approved: int = 0
    rejected: int = 0
    changes_requested: int = 0
    acceptance_rate: float | None = None
    auto_applied: int = 0
    auto_applied_share: float | None = None
    applied: int = 0
    rolled_back: int = 0
    rollback_rate: float | None = None
    cases_with_human_step: int = 0
    human_intervention_rate: float | None = None
    time_to_human_p50_s: float | None = None
    time_to_human_p90_s: float | None = None
    handed_off: int = 0
    handoff_rate: float | None = None
    handoff_rate_by_reason: dict[str, float] = {}
    model_cost_usd: float = 0.0
    model_cost_per_case_usd: float | None = None
    cache_hits: int = 0
    cache_misses: int = 0
    cache_hit_rate: float | None = None


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator ÷ denominator, rounded to 4 places; None when the denominator is 0."""
    return round(numerator / denominator, 4) if denominator else None


def percentile(values: list[float], p: float) -> float | None:
    """The nearest-rank p-th percentile (0 < p <= 100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1], 3)


class _Tally:
    """Counts for one row while the cases are read."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = defaultdict(int)
        self.reasons: dict[str, int] = defaultdict(int)
        self.human_seconds: list[float] = []
        self.cost = 0.0

    def add_case(self, case: CaseFacts) -> None:
        c = self.counts
        c["cases"] += 1
        if case.first_human_at is not None:
            c["cases_with_human_step"] += 1
            self.human_seconds.append((case.first_human_at - case.created_at).total_seconds())
        if case.handoff_reasons:
            c["handed_off"] += 1
            for reason in set(case.handoff_reasons):
                self.reasons[reason] += 1
        self.cost += case.cost_usd
        c["cache_hits"] += case.cache_hits
        c["cache_misses"] += case.cache_misses

    def add_actions(self, case: CaseFacts, attribution: Attribution | None) -> None:
        c = self.counts
        for action in case.actions:
            if attribution is not None and action.attribution != attribution:
                continue
            c["actions_proposed"] += 1
            c["applied"] += action.applied
            c["rolled_back"] += action.rolled_back
            c["auto_applied"] += action.automatic
        for approval_attribution, outcome in case.approvals:
            if attribution is None or approval_attribution == attribution:
                c[outcome] += 1

    def row(self, process: str, model_id: str, prompt_version: str) -> KpiRow:
        c = self.counts
        decided = c["approved"] + c["rejected"] + c["changes"]
        cases = c["cases"]
        return KpiRow(
            process=process,
            model_id=model_id,
            prompt_version=prompt_version,
            cases=cases,
            actions_proposed=c["actions_proposed"],
            approved=c["approved"],
            rejected=c["rejected"],
            changes_requested=c["changes"],
            acceptance_rate=ratio(c["approved"], decided),
            auto_applied=c["auto_applied"],
            auto_applied_share=ratio(c["auto_applied"], c["actions_proposed"]),
            applied=c["applied"],
            rolled_back=c["rolled_back"],
            rollback_rate=ratio(c["rolled_back"], c["applied"]),
            cases_with_human_step=c["cases_with_human_step"],
            human_intervention_rate=ratio(c["cases_with_human_step"], cases),
            time_to_human_p50_s=percentile(self.human_seconds, 50),
            time_to_human_p90_s=percentile(self.human_seconds, 90),
            handed_off=c["handed_off"],
            handoff_rate=ratio(c["handed_off"], cases),
            handoff_rate_by_reason={
                r: ratio(n, cases) or 0.0 for r, n in sorted(self.reasons.items())
            },
            model_cost_usd=round(self.cost, 6),
            model_cost_per_case_usd=round(self.cost / cases, 6) if cases else None,
            cache_hits=c["cache_hits"],
            cache_misses=c["cache_misses"],
            cache_hit_rate=ratio(c["cache_hits"], c["cache_hits"] + c["cache_misses"]),
        )


def compute_kpis(cases: Iterable[CaseFacts]) -> list[KpiRow]:
    """One row per process (model and prompt "*"), then one per model+prompt that proposed
    actions or decided cases in it, in a stable order."""
    by_process: dict[str, list[CaseFacts]] = defaultdict(list)
    for case in cases:
        by_process[case.process].append(case)
    rows: list[KpiRow] = []
    for process in sorted(by_process):
        group = by_process[process]
        total = _Tally()
        attributions: set[Attribution] = set()
        for case in group:
            total.add_case(case)
            total.add_actions(case, None)
            attributions.add(case.attribution)
            attributions.update(a.attribution for a in case.actions)
        rows.append(total.row(process, ALL, ALL))
        for attribution in sorted(attributions):
            tally = _Tally()
            for case in group:
                if case.attribution == attribution:
                    tally.add_case(case)
                tally.add_actions(case, attribution)
            rows.append(tally.row(process, *attribution))
    return rows


def as_metrics(row: KpiRow) -> dict[str, Any]:
    """The KPI values of a row that exist (not None), by the metric names the KPI job emits."""
    values = {
        "KpiAcceptanceRate": row.acceptance_rate,
        "KpiAutoAppliedShare": row.auto_applied_share,
        "KpiRollbackRate": row.rollback_rate,
        "KpiHumanInterventionRate": row.human_intervention_rate,
        "KpiTimeToHumanP50": row.time_to_human_p50_s,
        "KpiTimeToHumanP90": row.time_to_human_p90_s,
        "KpiHandoffRate": row.handoff_rate,
        "KpiModelCostPerCase": row.model_cost_per_case_usd,
        "KpiCacheHitRate": row.cache_hit_rate,
    }
    return {name: value for name, value in values.items() if value is not None}
