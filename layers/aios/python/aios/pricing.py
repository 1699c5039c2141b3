"""Model prices from config, and the estimates budgets reserve before a call.

Prices are USD per million tokens per model id (deploy-time config): input and output, and for
models with prompt caching the rates of input tokens read from and written to the provider's
prompt cache (unset: billed as plain input, the conservative reading). The pre-call estimate
is deliberately high: the prompt's UTF-8 bytes / 2 (BPE tokenizers average three to four bytes
per token on text) plus the call's whole output allowance, with no cache discount, so settling
with the provider's reported usage almost always gives money back rather than taking more.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from aios.errors import BudgetExhausted


class ModelPrice(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    cache_read_per_mtok: float | None = Field(default=None, ge=0)
    cache_write_per_mtok: float | None = Field(default=None, ge=0)

    def cost(
        self,
        input_tokens: int,
        output_tokens: int,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> float:
        """USD for a call with this usage; `input_tokens` are the uncached ones (as providers
        report them), cache reads and writes are priced at their own rates."""
        read = self.input_per_mtok if self.cache_read_per_mtok is None else self.cache_read_per_mtok
        write = (
            self.input_per_mtok if self.cache_write_per_mtok is None else self.cache_write_per_mtok
        )
        return (
            input_tokens * self.input_per_mtok
            + output_tokens * self.output_per_mtok
            + cache_read_tokens * read
            + cache_write_tokens * write
        ) / 1e6


PriceTable = Mapping[str, ModelPrice]


def estimate_input_tokens(*texts: str) -> int:
    """A conservative token count for prompt text, with no tokenizer at hand."""
    return sum(len(t.encode("utf-8")) for t in texts) // 2 + 16


def price_of(prices: PriceTable, model_id: str) -> ModelPrice:
    """The model's price; BudgetExhausted when unknown, so an unpriced model is never called."""
    try:
        return prices[model_id]
    except KeyError:
        raise BudgetExhausted(f"no price configured for model {model_id!r}") from None
