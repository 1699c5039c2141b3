"""Model calls by tier: the output cache, the budget, and the fallback chain with backoff.

`call_model` is the only way the decision plane reaches a model. For one request it:

1. looks the answer up in the tenant's cache (unless the cache is bypassed);
2. otherwise walks the tier's fallback chain: before each attempt it reserves the estimated
   cost against the tenant's daily budget (BudgetExhausted: no call), calls the provider, and
   settles the reservation with the reported usage; on throttling or timeout it gives the
   reservation back, waits (exponential backoff with jitter) and tries the next model;
3. records calls, tokens and cost per tier, and cache hits and misses, in the case's `Usage`.

The caller stores an answer in the cache (`remember`) only once it has passed validation.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aios.budget import release_budget, reserve_budget, settle_budget
from aios.errors import ModelThrottled, ModelTimeout, ModelUnavailable, SpecError
from aios.model_cache import cache_key, cached_answer, store_answer
from aios.pricing import ModelPrice, estimate_input_tokens, price_of
from aios.providers import ModelProvider, ModelRequest, ModelResponse
from aios.specs import Budget


@dataclass(frozen=True)
class ModelConfig:
    """What the decision plane needs to call models; built from Settings by the handler.

    `cache_ttl_seconds == 0` bypasses the cache; `enforce_budgets` needs the decision store.
    """

    provider: ModelProvider
    provider_name: str
    tiers: Mapping[str, tuple[str, ...]]
    prices: Mapping[str, ModelPrice] = field(default_factory=dict)
    cache_ttl_seconds: int = 0
    enforce_budgets: bool = False
    backoff_seconds: float = 0.25
    sleep: Callable[[float], None] = time.sleep

    def chain(self, tier: str) -> tuple[str, ...]:
        models = self.tiers.get(tier)
        if not models:
            raise SpecError(f"model tier {tier!r} has no models configured")
        return models

    def cost(self, model_id: str, response: ModelResponse) -> float:
        """USD of one answer at the model's prices (prompt-cache reads and writes included)."""
        price = self.prices.get(model_id)
        if price is None:
            return 0.0
        return price.cost(
            response.input_tokens,
            response.output_tokens,
            response.cache_read_tokens,
            response.cache_write_tokens,
        )


def offline_config(provider: ModelProvider, name: str = "offline") -> ModelConfig:
    """A config for tests and tools: two tiers, no prices, no cache, no budgets."""
    return ModelConfig(
        provider=provider, provider_name=name, tiers={"small": ("small",), "large": ("large",)}
    )


@dataclass
class Usage:
    """Model usage of one case: per tier and in total, with cache and repair counts."""

    tiers: dict[str, dict[str, Any]] = field(default_factory=dict)
    model_ids: set[str] = field(default_factory=set)
    cache_hits: int = 0
    cache_misses: int = 0
    repairs: int = 0
    refused: list[str] = field(default_factory=list)
    """Why each repaired answer was refused (the rule it broke, for a constraint)."""
    fallbacks: int = 0
    escalated: bool = False
    confidence: float | None = None
    prompts: dict[str, str] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)
    """Task -> the model id whose (validated) answer the decision used."""
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Task -> calls, tokens, cost, cache hits and answers reused from the process's records."""

    def step(self, task: str) -> dict[str, Any]:
        return self.steps.setdefault(
            task,
            {"calls": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0,
             "cache_hits": 0, "reused": 0},
        )  # fmt: skip

    def add(self, tier: str, response: ModelResponse, cost: float, task: str = "") -> None:
        if task:
            s = self.step(task)
            s["calls"] += 1
            s["input_tokens"] += response.input_tokens
            s["output_tokens"] += response.output_tokens
            s["cost_usd"] = round(s["cost_usd"] + cost, 8)
        t = self.tiers.setdefault(
            tier,
            {
                "calls": 0,
                "input_tokens": 0,
                "output_tokens": 0,
                "cache_read_tokens": 0,
                "cache_write_tokens": 0,
                "cost_usd": 0.0,
            },
        )
        t["calls"] += 1
        t["input_tokens"] += response.input_tokens
        t["output_tokens"] += response.output_tokens
        t["cache_read_tokens"] += response.cache_read_tokens
        t["cache_write_tokens"] += response.cache_write_tokens
        t["cost_usd"] = round(t["cost_usd"] + cost, 8)
        t["model_id"] = response.model_id  # the model that answered (priced by `aios cost`)
        self.model_ids.add(response.model_id)

    def to_dict(self) -> dict[str, Any]:
        def total(key: str) -> int:
            return sum(int(t.get(key, 0)) for t in self.tiers.values())

        return {
            "model_ids": sorted(self.model_ids),
            "calls": total("calls"),
            "input_tokens": total("input_tokens"),
            "output_tokens": total("output_tokens"),
            "cache_read_tokens": total("cache_read_tokens"),
            "cache_write_tokens": total("cache_write_tokens"),
            "cost_usd": round(sum(t["cost_usd"] for t in self.tiers.values()), 8),
            "by_tier": self.tiers,
            "cache": {"hits": self.cache_hits, "misses": self.cache_misses},
            "repairs": self.repairs,
            **({"refused": list(self.refused)} if self.refused else {}),
            "fallbacks": self.fallbacks,
            "escalated": self.escalated,
            "confidence": self.confidence,
            "prompts": self.prompts,
            "models": self.models,
            "by_step": self.steps,
        }


@dataclass(frozen=True)
class Answer:
    response: ModelResponse
    cache_key: str | None
    cached: bool


def call_model(
    config: ModelConfig,
    usage: Usage,
    *,
    tenant: str,
    tier: str,
    budget: Budget,
    request: ModelRequest,
    prompt_version: str,
    cache_input: Any | None,
) -> Answer:
    """Answer `request` from the cache or from the first model of the tier's chain that answers.

    `cache_input=None` skips the cache (repairs). Raises BudgetExhausted before any call the
    budget cannot cover, ModelUnavailable when every model was throttled or timed out.
    """
    chain = config.chain(tier)
    key = None
    if config.cache_ttl_seconds > 0 and cache_input is not None:
        key = cache_key(
            tenant, config.provider_name, chain[0], prompt_version, request.task, cache_input
        )
        hit = cached_answer(key)
        if hit is not None:
            usage.cache_hits += 1
            usage.step(request.task)["cache_hits"] += 1
            return Answer(hit, key, cached=True)
        usage.cache_misses += 1
    last: Exception | None = None
    for attempt, model_id in enumerate(chain):
        if attempt:
            usage.fallbacks += 1
            # Full jitter: concurrent cases throttled together do not retry together.
            ceiling = config.backoff_seconds * 2 ** (attempt - 1)
            config.sleep(random.uniform(0, ceiling))  # noqa: S311 (jitter, not a secret)
        attempt_request = request.model_copy(update={"model_id": model_id})
        reservation = None
        if config.enforce_budgets:
            price = price_of(config.prices, model_id)
            est_in = estimate_input_tokens(request.system, request.process_context, request.prompt)
            tokens = est_in + request.max_tokens
            reservation = reserve_budget(
                tenant, request.process, budget, price.cost(est_in, request.max_tokens), tokens
            )
        try:
            response = config.provider.complete(attempt_request)
        except (ModelThrottled, ModelTimeout) as exc:
            if reservation:
                release_budget(reservation)
            last = exc
            continue
        except BaseException:
            if reservation:
                release_budget(reservation)
            raise
        cost = config.cost(model_id, response)
        if reservation:
            tokens_used = (
                response.input_tokens
                + response.output_tokens
                + response.cache_read_tokens
                + response.cache_write_tokens
            )
            settle_budget(reservation, cost, tokens_used)
        usage.add(tier, response, cost, request.task)
        return Answer(response, key, cached=False)
    raise ModelUnavailable(f"every model of tier {tier!r} failed: {last}", tier=tier)


def remember(config: ModelConfig, answer: Answer) -> None:
    """Cache an answer that passed validation (no-op for cached answers or a bypassed cache)."""
    if answer.cache_key and not answer.cached:
        store_answer(answer.cache_key, answer.response, config.cache_ttl_seconds)
