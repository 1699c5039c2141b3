"""`aios eval`: replay inputs through a candidate decision plane in shadow, against labels.

The inputs are a process's labelled examples (`examples.py`) or recent cases from the ledger
with their recorded decisions as labels (`aios.ledger.recorded_decisions`). Each goes through
`shadow.shadow_decide` (nothing signed, queued or applied) and is compared field by field
(`report.py`). A candidate is the current spec with another prompt version, model or spec file
(`candidate.py`).
"""

from __future__ import annotations

from aios.evaluation.examples import (
    Expected,
    ExpectedAction,
    LabelledExample,
    load_examples,
    load_workload,
)
from aios.evaluation.report import CaseResult, EvalReport, compare
from aios.evaluation.shadow import ShadowDecision, shadow_decide
from aios.specs import ProcessSpec
from aios.tiering import ModelConfig

__all__ = [
    "CaseResult",
    "EvalReport",
    "Expected",
    "ExpectedAction",
    "LabelledExample",
    "ShadowDecision",
    "compare",
    "evaluate",
    "load_examples",
    "load_workload",
    "shadow_decide",
]


def evaluate(
    models: ModelConfig,
    spec: ProcessSpec,
    examples: list[LabelledExample],
    *,
    source: str,
    provider: str,
    candidate: dict[str, str] | None = None,
) -> EvalReport:
    """Replay every example in shadow and compare it with its label."""
    report = EvalReport(spec.name, source, dict(candidate or {}), provider)
    for i, example in enumerate(examples):
        got = shadow_decide(models, spec, example.input, case_id=f"eval-{i:04d}")
        report.results.append(compare(example.name or f"case-{i}", example.expected, got))
    return report
