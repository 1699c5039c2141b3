"""execute: verify each queued action, apply it at most once, answer the waiting case.

Reads the FIFO action queue with partial batch responses. A rejected or terminally failed
action is recorded and reported to the state machine with SendTaskFailure; a retryable failure
goes back to the queue with backoff, and to the DLQ after the queue's maxReceiveCount.
"""

from __future__ import annotations

import json
from typing import Any

from aios import aws
from aios.errors import ActionRejected, RetryableActionError, TerminalActionError
from aios.execution import (
    apply_action,
    compensate_case,
    idempotent_runner,
    record_orphan_rejection,
    record_outcome,
    verify_action,
)
from aios.ledger import bind_ledger
from aios.plans import ActionMessage, CompensationMessage
from aios.settings import load_settings
from aios.signing import PublicKeyCache
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

logger = Logger()
tracer = Tracer()
metrics = Metrics()
settings = load_settings().require("ledger_table", "idempotency_table", "plan_key_id")
bind_ledger(settings.ledger_table)
processor = SqsFifoPartialProcessor(skip_group_on_error=True)
run_once, idempotency_config = idempotent_runner(settings.idempotency_table)
_keys: PublicKeyCache | None = None

MAX_MESSAGE_BYTES = 64 * 1024
BACKOFF_BASE_SECONDS = 5
BACKOFF_MAX_SECONDS = 300


def _public_keys() -> PublicKeyCache:
    global _keys
    if _keys is None:
        _keys = PublicKeyCache.from_kms(aws.client("kms"))
    return _keys


def _fail_task(token: str, error: str, cause: dict[str, Any]) -> None:
    sfn = aws.client("stepfunctions")
    try:
        sfn.send_task_failure(taskToken=token, error=error, cause=json.dumps(cause)[:32768])
    except (
        sfn.exceptions.TaskTimedOut,
        sfn.exceptions.InvalidToken,
        sfn.exceptions.TaskDoesNotExist,
    ):
        logger.warning("task no longer waiting", extra={"error": error})


def _backoff(record: SQSRecord) -> None:
    """Push a retryable message further out each time it comes back."""
    attempt = int(record.attributes.approximate_receive_count or 1)
    delay = min(BACKOFF_BASE_SECONDS * 2 ** (attempt - 1), BACKOFF_MAX_SECONDS)
    queue_url = aws.client("sqs").get_queue_url(QueueName=record.event_source_arn.split(":")[-1])
    aws.client("sqs").change_message_visibility(
        QueueUrl=queue_url["QueueUrl"], ReceiptHandle=record.receipt_handle, VisibilityTimeout=delay
    )


@tracer.capture_method
def handle_record(record: SQSRecord) -> None:
    if len(record.body.encode()) > MAX_MESSAGE_BYTES:
        logger.error("oversized action message", extra={"message_id": record.message_id})
        record_orphan_rejection(
            record.message_id,
            record.body,
            {"code": "MESSAGE_TOO_LARGE", "message": f"message exceeds {MAX_MESSAGE_BYTES} bytes"},
        )
        metrics.add_metric(name="ActionsRejected", unit=MetricUnit.Count, value=1)
        return
    try:
        payload: Any = json.loads(record.body)
    except ValueError:
        payload = None  # refused below as a malformed message, with the validation error
    if isinstance(payload, dict) and "compensate" in payload:
        handle_compensation(record, payload)
        return
    try:
        message = ActionMessage.model_validate(payload)
    except ValidationError as exc:
        logger.error("malformed action message", extra={"message_id": record.message_id})
        record_orphan_rejection(
            record.message_id,
            record.body,
            {"code": "MALFORMED_MESSAGE", "message": str(exc)[:2000]},
        )
        metrics.add_metric(name="ActionsRejected", unit=MetricUnit.Count, value=1)
        return
    action = message.action
    logger.append_keys(case_id=action.case_id, plan_id=action.plan_id, action_id=action.action_id)
    try:
        verified = verify_action(
            message, keys=_public_keys(), trusted_key_ids={settings.plan_key_id}, settings=settings
        )
    except ActionRejected as exc:
        logger.warning("action rejected", extra={"code": exc.code, "reason": exc.message})
        if not record_outcome(
            action.case_id, action.index, action.action_id, "REJECTED", exc.to_dict()
        ):
            record_orphan_rejection(record.message_id, record.body, exc)
        metrics.add_metric(name="ActionsRejected", unit=MetricUnit.Count, value=1)
        _fail_task(message.task_token, f"Aios.{type(exc).__name__}", exc.to_dict())
        return
    done = verified.applied
    if done is not None and not _succeed_task(message.task_token, _applied(action.action_id, done)):
        # Applied already and nobody waits for it: a replay (e.g. after the FIFO dedup window).
        replay = {"code": "ACTION_REPLAYED", "message": "the action was applied already"}
        logger.warning("replayed action rejected", extra={"code": replay["code"]})
        record_outcome(action.case_id, action.index, action.action_id, "REJECTED", replay)
        metrics.add_metric(name="ActionsRejected", unit=MetricUnit.Count, value=1)
        return
    if done is not None:
        return  # a redelivery after a crash: the waiting task now has its answer
    try:
        result = apply_action(verified, settings, run_once)
    except RetryableActionError as exc:
        logger.warning("retryable failure", extra={"reason": exc.message})
        metrics.add_metric(name="ActionRetries", unit=MetricUnit.Count, value=1)
        _backoff(record)
        raise
    except TerminalActionError as exc:
        logger.error("action failed", extra={"reason": exc.message})
        record_outcome(action.case_id, action.index, action.action_id, "FAILED", exc.to_dict())
        metrics.add_metric(name="ActionsFailed", unit=MetricUnit.Count, value=1)
        _fail_task(message.task_token, "Aios.ActionFailed", exc.to_dict())
        return
    metrics.add_metric(name="ActionsApplied", unit=MetricUnit.Count, value=1)
    _succeed_task(message.task_token, _applied(action.action_id, result))


def _applied(action_id: str, result: dict[str, Any]) -> dict[str, Any]:
    return {"action_id": action_id, "status": "APPLIED", "result": result}


def handle_compensation(record: SQSRecord, payload: dict[str, Any]) -> None:
    """Roll back a failing case's applied actions, newest first, and answer the state machine."""
    try:
        message = CompensationMessage.model_validate(payload)
    except ValidationError as exc:
        record_orphan_rejection(
            record.message_id,
            record.body,
            {"code": "MALFORMED_MESSAGE", "message": str(exc)[:2000]},
        )
        return
    case_id = message.compensate.case_id
    logger.append_keys(case_id=case_id)
    try:
        summary = compensate_case(case_id, settings, run_once)
    except ActionRejected as exc:
        logger.warning("compensation refused", extra={"reason": exc.message})
        _fail_task(message.task_token, f"Aios.{type(exc).__name__}", exc.to_dict())
        return
    except RetryableActionError:
        _backoff(record)
        raise
    except TerminalActionError as exc:
        _fail_task(message.task_token, "Aios.CompensationFailed", exc.to_dict())
        return
    metrics.add_metric(
        name="ActionsCompensated", unit=MetricUnit.Count, value=len(summary["compensated"])
    )
    _succeed_task(message.task_token, summary)


def _succeed_task(token: str, output: dict[str, Any]) -> bool:
    """Answer the waiting task; False when no task waits for this token any more."""
    sfn = aws.client("stepfunctions")
    try:
        sfn.send_task_success(taskToken=token, output=json.dumps(output))
    except (
        sfn.exceptions.TaskTimedOut,
        sfn.exceptions.InvalidToken,
        sfn.exceptions.TaskDoesNotExist,
    ):
        logger.warning("done, but the case no longer waits for this answer")
        return False
    return True


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    idempotency_config.register_lambda_context(context)
    return process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )
