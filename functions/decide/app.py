"""decide: classify and plan a case (tiered models, cache, budget), gate each action by policy,
sign the plan once; or hand the case to a person (budget exhausted, invalid model output)."""

from __future__ import annotations

from typing import Any

from aios import aws
from aios.ledger import bind_decision_store, bind_ledger
from aios.memory.context import check_out_case_input
from aios.planning import CaseInput, decide_case
from aios.pricing import ModelPrice
from aios.providers import get_provider
from aios.settings import load_settings
from aios.signals import emit_signal
from aios.tiering import ModelConfig
from aios.tracing import new_tracer
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
tracer = new_tracer()
metrics = Metrics()
settings = load_settings().require(
    "ledger_table", "plan_key_id", "decision_table", "model_tiers", "model_prices"
)
bind_ledger(settings.ledger_table)
bind_decision_store(settings.decision_table)
_provider_options: dict[str, dict[str, Any]] = {
    "openai": {"base_url": settings.openai_base_url, "secret_arn": settings.openai_secret_arn},
}
models = ModelConfig(
    provider=get_provider(
        settings.model_provider, **_provider_options.get(settings.model_provider, {})
    ),
    provider_name=settings.model_provider,
    tiers={tier: tuple(ids) for tier, ids in settings.model_tiers.items()},
    prices={m: ModelPrice.model_validate(p) for m, p in settings.model_prices.items()},
    cache_ttl_seconds=settings.model_cache_ttl_seconds,
    enforce_budgets=True,
)
_unpriced = sorted({m for ids in models.tiers.values() for m in ids} - set(models.prices))
if _unpriced:  # fail the cold start: budgets cannot be enforced for a model without a price
    raise RuntimeError(f"AIOS_MODEL_PRICES has no price for {', '.join(_unpriced)}")


USAGE_LOGGED = ("calls", "input_tokens", "output_tokens", "cost_usd", "confidence", "models")
"""What the "plan signed" log line keeps of the decision's usage."""


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    case = CaseInput.model_validate(check_out_case_input(event, aws.client("s3")))
    logger.append_keys(case_id=case.case_id, process=case.process)
    decision = decide_case(
        case,
        models=models,
        kms=aws.client("kms"),
        key_id=settings.plan_key_id,
        ttl_seconds=settings.plan_ttl_seconds,
        policy_key_id=settings.policy_key_id,
    )
    metrics.add_dimension(name="process", value=case.process)
    usage = decision.usage or {}
    if decision.handoff is not None:
        logger.warning("case handed off", extra={"handoff": decision.handoff.model_dump()})
    else:
        logger.append_keys(plan_id=decision.plan.envelope.plan_id if decision.plan else None)
        # The whole usage (per tier and step) is on the plan item (GET /cases/{id}); the log
        # line keeps what an operator searches for, at a third of the bytes.
        summary = {k: usage.get(k) for k in USAGE_LOGGED if k in usage}
        logger.info("plan signed", extra={"actions": len(decision.actions), "usage": summary})
        metrics.add_metric(
            name="ActionsProposed", unit=MetricUnit.Count, value=len(decision.actions)
        )
    _usage_metrics(usage, decision.handoff is not None)
    _signals(usage, decision.handoff.reason if decision.handoff else None)
    return decision.model_dump(mode="json", by_alias=True)


def _signals(usage: dict[str, Any], handoff_reason: str | None) -> None:
    """What the alarms watch, for every process at once: the handoff rate (the average of
    DecisionHandoffs), budget exhaustion and the model spend."""
    emit_signal("DecisionHandoffs", int(handoff_reason is not None))
    emit_signal("BudgetExhausted", int(handoff_reason == "BUDGET_EXHAUSTED"))
    emit_signal("ModelCostUSD", float(usage.get("cost_usd") or 0.0), MetricUnit.NoUnit)


def _usage_metrics(usage: dict[str, Any], handed_off: bool) -> None:
    """The decision catalogue (README "Decision plane"): per case, dimension `process`."""
    for tier, t in sorted((usage.get("by_tier") or {}).items()):
        metrics.add_metric(
            name=f"ModelTokens_{tier}",
            unit=MetricUnit.Count,
            value=t["input_tokens"] + t["output_tokens"],
        )
        metrics.add_metric(name=f"ModelCostUSD_{tier}", unit=MetricUnit.NoUnit, value=t["cost_usd"])
    cache = usage.get("cache") or {}
    metrics.add_metric(name="ModelCacheHits", unit=MetricUnit.Count, value=cache.get("hits", 0))
    metrics.add_metric(name="ModelCacheMisses", unit=MetricUnit.Count, value=cache.get("misses", 0))
    metrics.add_metric(name="ModelRepairs", unit=MetricUnit.Count, value=usage.get("repairs", 0))
    metrics.add_metric(name="DecisionHandoffs", unit=MetricUnit.Count, value=int(handed_off))
    if usage.get("confidence") is not None:
        metrics.add_metric(
            name="ClassificationConfidence", unit=MetricUnit.NoUnit, value=usage["confidence"]
        )
    metrics.add_metric(
        name="ClassificationEscalated",
        unit=MetricUnit.Count,
        value=int(bool(usage.get("escalated"))),
    )
