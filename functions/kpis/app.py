"""kpis: the decision-quality KPIs of the trailing window as metrics, for the dashboard.

Scheduled (hourly by default): computes the KPIs of every process over the last
`AIOS_KPI_WINDOW_HOURS` from the ledger and emits each defined figure as a metric with the
dimension `process`; the acceptance rate is also emitted without it, for the acceptance-floor
alarm. The same figures are served by `GET /kpis` and `aios kpi`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aios.kpis import ALL, as_metrics, kpi_report
from aios.ledger import bind_ledger
from aios.settings import load_settings
from aios.signals import emit_signal
from aios.tracing import new_tracer
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict

logger = Logger()
tracer = new_tracer()
metrics = Metrics()
settings = load_settings().require("ledger_table")
bind_ledger(settings.ledger_table)
SECONDS = {"KpiTimeToHumanP50", "KpiTimeToHumanP90"}


class ScheduledEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    time: datetime | None = None


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    now = ScheduledEvent.model_validate(event).time or datetime.now(UTC)
    report = kpi_report(None, now - timedelta(hours=settings.kpi_window_hours), now)
    emitted: dict[str, dict[str, Any]] = {}
    for row in report.rows:
        if row.model_id != ALL:
            continue
        values = as_metrics(row)
        emitted[row.process] = values
        if not values:
            continue
        metrics.add_dimension(name="process", value=row.process)
        for name, value in values.items():
            unit = MetricUnit.Seconds if name in SECONDS else MetricUnit.NoUnit
            metrics.add_metric(name=name, unit=unit, value=value)
        metrics.flush_metrics()  # one EMF record per process: each has its own dimension
        if "KpiAcceptanceRate" in values:
            emit_signal("KpiAcceptanceRate", values["KpiAcceptanceRate"], MetricUnit.NoUnit)
    logger.info("kpis", extra={"since": report.since, "until": report.until, "kpis": emitted})
    return {"since": report.since, "until": report.until, "kpis": emitted}
