"""The price table (`prices.json` beside this module): AWS list prices and model token prices.

`load_prices(region)` answers the table's us-east-1 service prices with the region's overrides
applied (`regions.<region>` in the table), and every model's token prices. A table of one's
own (`path`) has the same shape; it replaces the kit's.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

TABLE = Path(__file__).with_name("prices.json")


class ServicePrice(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    usd: float = Field(ge=0)
    unit: str
    source: str
    as_of: str


class ModelRate(BaseModel):
    """USD per million tokens of one model, with where the figures come from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    cache_read_per_mtok: float | None = Field(default=None, ge=0)
    cache_write_per_mtok: float | None = Field(default=None, ge=0)
    source: str
    as_of: str


class PriceTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    about: str = ""
    currency: str = "USD"
    as_of: str
    base_region: str
    services: dict[str, ServicePrice]
    regions: dict[str, dict[str, float]] = Field(default_factory=dict)
    models: dict[str, ModelRate] = Field(default_factory=dict)


class Prices(BaseModel):
    """The prices in force in one region: USD per unit by item, and the models' rates."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    region: str
    as_of: str
    unit_usd: dict[str, float]
    models: dict[str, ModelRate]
    overridden: tuple[str, ...] = ()
    """The items whose price is the region's override rather than the base region's."""

    def usd(self, item: str) -> float:
        return self.unit_usd[item]


def read_table(path: Path | None = None) -> PriceTable:
    """The table at `path` (default: the kit's), validated."""
    data: Any = json.loads((path or TABLE).read_text(encoding="utf-8"))
    table = PriceTable.model_validate(data)
    for region, overrides in table.regions.items():
        unknown = sorted(set(overrides) - set(table.services))
        if unknown:
            raise ValueError(f"regions.{region}: unknown price item {', '.join(unknown)}")
    return table


@lru_cache(maxsize=8)
def _kit_table() -> PriceTable:
    return read_table()


def load_prices(region: str | None = None, path: Path | None = None) -> Prices:
    """The service prices of `region` (base region when None) and the model rates."""
    table = read_table(path) if path else _kit_table()
    region = region or table.base_region
    overrides = table.regions.get(region, {})
    unit_usd = {k: overrides.get(k, p.usd) for k, p in table.services.items()}
    return Prices(
        region=region,
        as_of=table.as_of,
        unit_usd=unit_usd,
        models=dict(table.models),
        overridden=tuple(sorted(overrides)),
    )
