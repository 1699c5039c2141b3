"""Model list prices: the default models' rates per million tokens, with source and date.

`MODEL_LIST_PRICES` is the one place the kit's default model prices are written down; the
config defaults (`AiosConfig.model_prices`, and cdk.json's copy) are derived from it, and
`bench/decision_cost.py` prices its runs with it. Each entry names the model (Bedrock
inference-profile or model id), the input and output rates, the prompt-cache read and write
rates (input tokens read from / written to Bedrock's prompt cache), where the figures come from
and when they were read. Rates are USD per 1M tokens, on-demand, us-east-1.

Claude 4.5 models through a geographic cross-Region inference profile (`us.`) are priced 10%
above the global profile (`global.`) and the list price; the `us.` profiles are the defaults
here because they keep requests in one geography. Claude's cache writes (5-minute TTL) cost
1.25x input and cache reads 0.1x; Nova's cache reads cost 0.25x input and writes carry no
premium (billed as input).
"""

from __future__ import annotations

from dataclasses import dataclass

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

_CLAUDE_SOURCE = (
    f"{BEDROCK_PRICING} (Anthropic, on-demand; geographic cross-Region profile = global + 10%);"
    " https://docs.aws.amazon.com/bedrock/latest/userguide/prompt-caching.html"
)
_NOVA_SOURCE = f"{BEDROCK_PRICING} (Amazon Nova, on-demand; cache reads 75% off input)"

MODEL_LIST_PRICES: dict[str, ListedPrice] = {
    CLAUDE_HAIKU_45: ListedPrice(
        input=1.10, output=5.50, cache_read=0.11, cache_write=1.375, source=_CLAUDE_SOURCE
    ),
    CLAUDE_SONNET_45: ListedPrice(
        input=3.30, output=16.50, cache_read=0.33, cache_write=4.125, source=_CLAUDE_SOURCE
    ),
    NOVA_MICRO: ListedPrice(
        input=0.035, output=0.14, cache_read=0.00875, cache_write=0.035, source=_NOVA_SOURCE
    ),
    NOVA_LITE: ListedPrice(
        input=0.06, output=0.24, cache_read=0.015, cache_write=0.06, source=_NOVA_SOURCE
    ),
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
