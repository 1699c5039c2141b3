"""What a case costs: the price table, metered quantities and priced reports."""

from aios.cost.prices import Prices, load_prices
from aios.cost.report import ITEMS, CostReport, Meter, price, render

__all__ = [
    "ITEMS",
    "CostReport",
    "Meter",
    "Prices",
    "load_prices",
    "price",
    "render",
]
