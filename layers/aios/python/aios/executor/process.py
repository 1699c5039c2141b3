"""The executor process: settings from the environment, logs and metrics, the poll loop."""

from __future__ import annotations

import os
from collections.abc import Callable

from aios.execution import idempotent_runner
from aios.execution.runtime import execution_context
from aios.executor import DEFAULT_MESSAGE_TIMEOUT_SECONDS, DEFAULT_WAIT_SECONDS, Executor, Handled
from aios.ledger import bind_ledger
from aios.settings import Settings, load_settings

METRICS = {
    "applied": "ActionsApplied",
    "rejected": "ActionsRejected",
    "retry": "ActionRetries",
    "failed": "ActionsFailed",
    "compensated": "ActionsCompensated",
}


def build_executor(
    settings: Settings,
    *,
    wait_seconds: int = DEFAULT_WAIT_SECONDS,
    message_timeout: float = DEFAULT_MESSAGE_TIMEOUT_SECONDS,
) -> Executor:
    """An executor on the queue and tables `settings` name, wired like the execute function."""
    from aws_lambda_powertools import Logger, Metrics
    from aws_lambda_powertools.metrics import MetricUnit

    settings.require("ledger_table", "idempotency_table", "action_queue_url")
    bind_ledger(settings.ledger_table)
    logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "aios-executor"))
    metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "AIOS"))
    run_once, idempotency_config = idempotent_runner(settings.idempotency_table)

    def report(handled: Handled) -> None:
        outcome = handled.outcome
        if outcome is None:
            return
        metrics.add_metric(name=METRICS[outcome.kind], unit=MetricUnit.Count, value=outcome.actions)
        metrics.flush_metrics()
        # One line per action: a plan's actions in one message were each applied.
        for action_id in outcome.applied_ids or (outcome.action_id,):
            logger.info(
                "message handled",
                extra={
                    "message_id": handled.message_id,
                    "outcome": outcome.kind,
                    "case_id": outcome.case_id,
                    "action_id": action_id,
                    "answered": outcome.answered,
                    "error": outcome.error,
                },
            )

    return Executor(
        queue_url=settings.action_queue_url,
        context=execution_context(settings, run_once, logger.append_keys),
        wait_seconds=wait_seconds,
        message_timeout=message_timeout,
        on_deadline=idempotency_config.register_lambda_context,
        on_outcome=report,
    )


def main(
    should_stop: Callable[[], bool],
    *,
    wait_seconds: int = DEFAULT_WAIT_SECONDS,
    message_timeout: float = DEFAULT_MESSAGE_TIMEOUT_SECONDS,
) -> int:
    """Poll until `should_stop()`; the environment names everything (see `__main__`)."""
    executor = build_executor(
        load_settings(), wait_seconds=wait_seconds, message_timeout=message_timeout
    )
    executor.run(should_stop)
    return 0
