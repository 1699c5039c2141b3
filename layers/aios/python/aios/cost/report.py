"""Priced cost reports: what a set of cases used (a `Meter`), times the price table.

A `Meter` holds quantities by item (`ITEMS`: state transitions, Lambda requests and GB-seconds,
DynamoDB read and write units, SQS requests, KMS requests by key type, API Gateway requests,
X-Ray traces, log bytes, metric requests, EventBridge events, AppConfig, Secrets Manager, S3
and SES requests) and tokens by model. `price(meter, prices, cases)` answers the itemised
dollars, in total, per case and per 1,000 cases; model tokens are a separate subtotal from the
infrastructure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aios.cost.prices import Prices

GIB = 1024**3
TOKEN_KINDS = ("input", "output", "cache_read", "cache_write")


@dataclass(frozen=True)
class Item:
    key: str
    label: str
    unit: str
    price: str
    """The price table item this one is priced with."""
    scale: float = 1.0
    """Quantity x scale = billed units (bytes to GB)."""


ITEMS: tuple[Item, ...] = (
    Item("sfn_transitions", "Step Functions state transitions", "transitions",
         "stepfunctions.transition"),
    Item("lambda_requests", "Lambda requests", "invocations", "lambda.request"),
    Item("lambda_gb_seconds", "Lambda duration (arm64)", "GB-s", "lambda.gb_second_arm64"),
    Item("dynamodb_rru", "DynamoDB reads", "RRU", "dynamodb.rru"),
    Item("dynamodb_wru", "DynamoDB writes", "WRU", "dynamodb.wru"),
    Item("sqs_requests", "SQS FIFO requests", "64 KiB requests", "sqs.fifo_request"),
    Item("sqs_standard_requests", "SQS standard requests", "64 KiB requests",
         "sqs.standard_request"),
    Item("kms_asymmetric", "KMS asymmetric (sign, verify)", "requests", "kms.asymmetric_request"),
    Item("kms_symmetric", "KMS symmetric", "requests", "kms.symmetric_request"),
    Item("api_requests", "API Gateway requests", "requests", "apigateway.rest_request"),
    Item("xray_traces", "X-Ray traces (sampled share)", "traces", "xray.trace_recorded"),
    Item("log_bytes", "CloudWatch Logs ingested", "bytes", "logs.ingested_gb", 1 / GIB),
    Item("metric_requests", "CloudWatch PutMetricData", "requests",
         "cloudwatch.put_metric_data_request"),
    Item("eventbridge_events", "EventBridge events", "64 KiB events", "eventbridge.event"),
    Item("appconfig_requests", "AppConfig requests", "requests", "appconfig.request"),
    Item("appconfig_received", "AppConfig configurations received", "configurations",
         "appconfig.configuration_received"),
    Item("secrets_requests", "Secrets Manager requests", "requests", "secretsmanager.request"),
    Item("s3_puts", "S3 PUT requests", "requests", "s3.put_request"),
    Item("s3_gets", "S3 GET requests", "requests", "s3.get_request"),
    Item("emails", "SES emails", "emails", "ses.email"),
)  # fmt: skip
ITEM_KEYS = frozenset(i.key for i in ITEMS)


@dataclass
class Meter:
    """Quantities used (by one case, or summed over many)."""

    counts: dict[str, float] = field(default_factory=dict)
    tokens: dict[str, dict[str, float]] = field(default_factory=dict)
    """Model id -> {"input", "output", "cache_read", "cache_write"} tokens."""

    def add(self, key: str, quantity: float) -> Meter:
        if key not in ITEM_KEYS:
            raise KeyError(f"unknown cost item {key!r}")
        self.counts[key] = self.counts.get(key, 0.0) + quantity
        return self

    def add_tokens(self, model_id: str, **tokens: float) -> Meter:
        unknown = set(tokens) - set(TOKEN_KINDS)
        if unknown:
            raise KeyError(f"unknown token kind {', '.join(sorted(unknown))}")
        t = self.tokens.setdefault(model_id, dict.fromkeys(TOKEN_KINDS, 0.0))
        for kind, n in tokens.items():
            t[kind] += n
        return self

    def merge(self, other: Meter) -> Meter:
        for key, n in other.counts.items():
            self.add(key, n)
        for model_id, t in other.tokens.items():
            self.add_tokens(model_id, **t)
        return self

    @classmethod
    def total(cls, meters: Iterable[Meter]) -> Meter:
        out = cls()
        for m in meters:
            out.merge(m)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"counts": dict(self.counts), "tokens": {m: dict(t) for m, t in self.tokens.items()}}


@dataclass(frozen=True)
class Line:
    key: str
    label: str
    quantity: float
    unit: str
    unit_usd: float
    usd: float

    def to_dict(self, cases: int) -> dict[str, Any]:
        return {
            "item": self.key,
            "label": self.label,
            "quantity_per_case": round(self.quantity / cases, 6),
            "unit": self.unit,
            "usd_per_case": round(self.usd / cases, 10),
            "usd_per_1000_cases": round(self.usd / cases * 1000, 6),
        }


@dataclass(frozen=True)
class CostReport:
    cases: int
    region: str
    prices_as_of: str
    infrastructure: tuple[Line, ...]
    models: tuple[Line, ...]
    unpriced_models: tuple[str, ...] = ()

    @property
    def infrastructure_usd(self) -> float:
        return sum(line.usd for line in self.infrastructure)

    @property
    def model_usd(self) -> float:
        return sum(line.usd for line in self.models)

    @property
    def total_usd(self) -> float:
        return self.infrastructure_usd + self.model_usd

    def per_case(self, usd: float) -> float:
        return usd / self.cases if self.cases else 0.0

    def to_dict(self) -> dict[str, Any]:
        n = max(self.cases, 1)
        return {
            "cases": self.cases,
            "region": self.region,
            "prices_as_of": self.prices_as_of,
            "usd_per_case": round(self.total_usd / n, 10),
            "usd_per_1000_cases": round(self.total_usd / n * 1000, 6),
            "infrastructure_usd_per_1000_cases": round(self.infrastructure_usd / n * 1000, 6),
            "model_usd_per_1000_cases": round(self.model_usd / n * 1000, 6),
            "items": [line.to_dict(n) for line in (*self.infrastructure, *self.models)],
            "unpriced_models": list(self.unpriced_models),
        }


def _model_lines(
    tokens: Mapping[str, Mapping[str, float]], prices: Prices
) -> tuple[list[Line], list[str]]:
    lines: list[Line] = []
    unpriced: list[str] = []
    for model_id in sorted(tokens):
        rate = prices.models.get(model_id)
        if rate is None:
            unpriced.append(model_id)
            continue
        per_mtok = {
            "input": rate.input_per_mtok,
            "output": rate.output_per_mtok,
            # A model without cache rates bills cached tokens as input.
            "cache_read": rate.cache_read_per_mtok
            if rate.cache_read_per_mtok is not None
            else rate.input_per_mtok,
            "cache_write": rate.cache_write_per_mtok
            if rate.cache_write_per_mtok is not None
            else rate.input_per_mtok,
        }
        for kind in TOKEN_KINDS:
            n = tokens[model_id].get(kind, 0.0)
            if n:
                lines.append(
                    Line(
                        key=f"model:{model_id}:{kind}",
                        label=f"{model_id} {kind.replace('_', ' ')} tokens",
                        quantity=n,
                        unit="tokens",
                        unit_usd=per_mtok[kind] / 1e6,
                        usd=n * per_mtok[kind] / 1e6,
                    )
                )
    return lines, unpriced


def price(meter: Meter, prices: Prices, cases: int = 1) -> CostReport:
    """The meter's dollars, item by item, at `prices`; `cases` is how many cases it covers."""
    infra: list[Line] = []
    for item in ITEMS:
        quantity = meter.counts.get(item.key, 0.0)
        unit_usd = prices.usd(item.price) * item.scale
        if item.key == "xray_traces":
            unit_usd *= prices.usd("xray.sampled_fraction")
        infra.append(Line(item.key, item.label, quantity, item.unit, unit_usd, quantity * unit_usd))
    models, unpriced = _model_lines(meter.tokens, prices)
    return CostReport(
        cases=cases,
        region=prices.region,
        prices_as_of=prices.as_of,
        infrastructure=tuple(infra),
        models=tuple(models),
        unpriced_models=tuple(unpriced),
    )


def render(report: CostReport, title: str = "") -> str:
    """The report as a table: quantity and dollars per case and per 1,000 cases."""
    n = max(report.cases, 1)
    out = [title] if title else []
    out.append(f"{'item':<44}{'qty/case':>12}  {'unit':<16}{'USD/case':>13}{'USD/1000':>11}")
    for line in (*report.infrastructure, *report.models):
        if not line.quantity:
            continue
        out.append(
            f"{line.label[:43]:<44}{line.quantity / n:>12.4g}  {line.unit[:15]:<16}"
            f"{line.usd / n:>13.8f}{line.usd / n * 1000:>11.5f}"
        )
    for label, usd in (
        ("infrastructure", report.infrastructure_usd),
        ("model tokens", report.model_usd),
        ("total", report.total_usd),
    ):
        out.append(f"{label:<72}{usd / n:>13.8f}{usd / n * 1000:>11.5f}")
    if report.unpriced_models:
        out.append(f"unpriced models (not counted): {', '.join(report.unpriced_models)}")
    return "\n".join(out)
