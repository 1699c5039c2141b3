"""The metrics the kit's own alarms watch, emitted as one EMF record each.

A function's per-process metrics carry the dimensions `service` and `process`; an alarm watches
one exact dimension set, so each signal an alarm watches is also emitted with `service` alone:
one alarm per signal then covers every process. The catalogue of names, units and dimensions
is in the README ("Alarms on the kit's own signals").
"""

from __future__ import annotations

import os

from aws_lambda_powertools.metrics import MetricUnit, single_metric

DEFAULT_NAMESPACE = "AIOS"


def emit_signal(name: str, value: float, unit: MetricUnit = MetricUnit.Count) -> None:
    """Emit `name` now, in namespace AIOS with the function's `service` as its only dimension."""
    namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", DEFAULT_NAMESPACE)
    service = os.environ.get("POWERTOOLS_SERVICE_NAME", "aios")
    with single_metric(
        name=name,
        unit=unit,
        value=value,
        namespace=namespace,
        default_dimensions={"service": service},
    ):
        pass
