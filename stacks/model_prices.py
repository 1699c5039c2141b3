"""The kit's default models, with their list prices per million tokens.

The rates themselves are written down once, in the kit's price table
(`layers/aios/python/aios/cost/prices.json`, with their source and date); this module names the
default models, reads that table (`table_models`, once) and gives `MODEL_LIST_PRICES`, which
`bench/decision_cost.py` prices its runs with; `AiosConfig.model_prices` defaults to the same
table. Rates are USD per 1M tokens, on-demand, us-east-1: input, output, and the prompt-cache
read and write rates (input tokens read from / written to Bedrock's prompt cache).

Claude 4.5 models through a geographic cross-Region inference profile (`us.`) are priced 10%
above the global profile (`global.`) and the list price; the `us.` profiles are the defaults
here because they keep requests in one geography. Claude's cache writes (5-minute TTL) cost
1.25x input and cache reads 0.1x; Nova's cache reads cost 0.25x input and writes carry no
premium (billed as input).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

PRICES_AS_OF = "2026-12-01"
BEDROCK_PRICING = "https://aws.amazon.com/bedrock/pricing/"


@dataclass(frozen=True)
class ListedPrice:
    """USD per 1M tokens of one model, and where the figures come from."""

    input: float
    output: float
    cache_read: float
    cache_write: float
    source: str
    as_of: str = PRICES_AS_OF

    def as_config(self) -> dict[str, float]:
        """The shape of a `model_prices` entry (cdk.json, AIOS_MODEL_PRICES)."""
        return {
            "input_per_mtok": self.input,
            "output_per_mtok": self.output,
            "cache_read_per_mtok": self.cache_read,
            "cache_write_per_mtok": self.cache_write,
        }


CLAUDE_HAIKU_45 = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
CLAUDE_SONNET_45 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
NOVA_MICRO = "us.amazon.nova-micro-v1:0"
NOVA_LITE = "us.amazon.nova-lite-v1:0"

PRICE_TABLE = Path(__file__).resolve().parents[1] / "layers/aios/python/aios/cost/prices.json"


@cache
def table_models() -> dict[str, dict[str, Any]]:
    """Model id -> its rates, source and date, as the price table lists them (read once)."""
    models: dict[str, dict[str, Any]] = json.loads(PRICE_TABLE.read_text(encoding="utf-8"))[
        "models"
    ]
    return models


def _listed(model_id: str) -> ListedPrice:
    rate = table_models()[model_id]
    return ListedPrice(
        input=rate["input_per_mtok"],
        output=rate["output_per_mtok"],
        cache_read=rate["cache_read_per_mtok"],
        cache_write=rate["cache_write_per_mtok"],
        source=rate["source"],
        as_of=rate["as_of"],
    )


MODEL_LIST_PRICES: dict[str, ListedPrice] = {
    model_id: _listed(model_id)
    for model_id in (CLAUDE_HAIKU_45, CLAUDE_SONNET_45, NOVA_MICRO, NOVA_LITE)
}

# The smallest prompt prefix Bedrock caches at a checkpoint, per model (tokens); below it the
# checkpoint is ignored. Source: the models' cards in the Bedrock user guide (prompt caching).
PROMPT_CACHE_MIN_TOKENS: dict[str, int] = {
    CLAUDE_HAIKU_45: 4096,
    CLAUDE_SONNET_45: 1024,
    NOVA_MICRO: 1000,
    NOVA_LITE: 1000,
}

DEFAULT_MODEL_TIERS: dict[str, list[str]] = {
    "small": [CLAUDE_HAIKU_45],
    # On throttling or timeout the plan falls back to Haiku: every answer is validated anyway.
    "large": [CLAUDE_SONNET_45, CLAUDE_HAIKU_45],
}
