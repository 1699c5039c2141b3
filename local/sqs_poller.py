"""SQS event source mappings: poll a queue and invoke a function with genuine SQS events.

One thread per mapping does what Lambda's poller does:

- ReceiveMessage with the mapping's BatchSize (all system and message attributes, long poll);
- invokes the function with `{"Records": [...]}` shaped exactly like Lambda's SQS event;
- deletes the messages that were processed: all of them on success, all but the
  `batchItemFailures` when the mapping has ReportBatchItemFailures, none when the function
  fails (they reappear after the visibility timeout, as on AWS);
- the queue's redrive policy is honoured by moto itself: a ReceiveMessage that finds a message
  already received `maxReceiveCount` times moves it to the dead-letter queue (checked in
  `moto/sqs/models.py`, `receive_message`; `tests/local` proves it).

FIFO redelivery in moto 5.2.5 starves the earlier of two expired messages of one group;
`local.moto_patches` fixes that for every receive, long polls included. The poller long-polls
(`WaitTimeSeconds=1`): a message sent to an idle queue is delivered at once, and an idle queue
costs one receive a second, not a receive every pause.

A malformed `batchItemFailures` answer (an id not in the batch, no id) fails the whole batch,
like Lambda does.

Visibility timeout: messages are received with the queue's own timeout, unless
`visibility_timeout` is given, or the environment variable `AIOS_LOCAL_VISIBILITY_TIMEOUT`
(seconds) is set: it makes a failed message reappear quickly, so that a retry test does not wait
the action queue's 180 s. It only changes when a message becomes visible again, not how often it
may be received.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from typing import Any

from local.assembly import EventSourceMappingSpec
from local.polling import PollingLoop

logger = logging.getLogger(__name__)

VISIBILITY_OVERRIDE_VARIABLE = "AIOS_LOCAL_VISIBILITY_TIMEOUT"
LONG_POLL_SECONDS = 1

Invoke = Callable[[str, bytes], Any]  # (function name, payload) -> InvokeResult


def visibility_override() -> int | None:
    """The visibility timeout forced by AIOS_LOCAL_VISIBILITY_TIMEOUT, if set."""
    raw = os.environ.get(VISIBILITY_OVERRIDE_VARIABLE, "").strip()
    if not raw:
        return None
    value = int(raw)
    if not 0 <= value <= 43200:
        raise ValueError(f"{VISIBILITY_OVERRIDE_VARIABLE} must be 0..43200 seconds, got {raw}")
    return value


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The Lambda event for a batch of ReceiveMessage results."""
    return {"Records": [_record(m, queue_arn, region) for m in messages]}


def _record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    attributes = dict(message.get("Attributes", {}))
    body = message["Body"]
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": body,
        "attributes": attributes,
        "messageAttributes": {
            name: _lambda_message_attribute(value)
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode()).hexdigest(),  # noqa: S324
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def _lambda_message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    # Lambda spells the keys in camelCase and always includes the list fields.
    return {
        "stringValue": value.get("StringValue"),
        "binaryValue": value.get("BinaryValue"),
        "stringListValues": value.get("StringListValues", []),
        "binaryListValues": value.get("BinaryListValues", []),
        "dataType": value["DataType"],
    }


class SqsPoller(PollingLoop):
    """Polls one queue for one function until `stop()`."""

    def __init__(
        self,
        mapping: EventSourceMappingSpec,
        sqs_client: Any,
        invoke: Invoke,
        region: str = "us-east-1",
        visibility_timeout: int | None = None,
        idle_wait_s: float = 0.0,  # the receive itself waits (long polling)
    ) -> None:
        self.mapping = mapping
        self.sqs = sqs_client
        self.invoke = invoke
        self.region = region
        self.visibility_timeout = (
            visibility_timeout if visibility_timeout is not None else visibility_override()
        )
        super().__init__(f"sqs-poller-{mapping.function}", idle_wait_s)
        self.batches = 0  # invocations made; useful in tests and logs

    def poll_once(self) -> int:
        """Receive one batch and process it; returns how many messages were received."""
        args: dict[str, Any] = {
            "QueueUrl": self.mapping.queue_url,
            "MaxNumberOfMessages": max(1, min(self.mapping.batch_size, 10)),
            "MessageSystemAttributeNames": ["All"],
            "MessageAttributeNames": ["All"],
            "WaitTimeSeconds": LONG_POLL_SECONDS,
        }
        if self.visibility_timeout is not None:
            args["VisibilityTimeout"] = self.visibility_timeout
        messages = self.sqs.receive_message(**args).get("Messages", [])
        if not messages:
            return 0
        self.batches += 1
        event = sqs_event(messages, self.mapping.queue_arn, self.region)
        result = self.invoke(self.mapping.function, json.dumps(event).encode())
        done = self._processed(messages, result)
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
            for i, m in enumerate(messages)
            if m["MessageId"] in done
        ]
        for start in range(0, len(entries), 10):
            self.sqs.delete_message_batch(
                QueueUrl=self.mapping.queue_url, Entries=entries[start : start + 10]
            )
        return len(messages)

    def _processed(self, messages: list[dict[str, Any]], result: Any) -> set[str]:
        """Ids of the messages to delete, per Lambda's partial batch response rules."""
        ids = {m["MessageId"] for m in messages}
        if result.function_error:
            logger.info(
                "%s failed a batch of %d: %s",
                self.mapping.function,
                len(messages),
                result.payload[:500].decode(errors="replace"),
            )
            return set()
        if not self.mapping.report_batch_item_failures:
            return ids
        response = result.json()
        failures = response.get("batchItemFailures") if isinstance(response, dict) else None
        if not failures:
            return ids
        failed: set[str] = set()
        for item in failures:
            item_id = item.get("itemIdentifier") if isinstance(item, dict) else None
            if not item_id or item_id not in ids:
                logger.warning("malformed batchItemFailures %r: failing the batch", failures)
                return set()
            failed.add(item_id)
        return ids - failed
