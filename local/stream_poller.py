"""DynamoDB stream event source mappings: read a table's stream and invoke a function.

One thread per mapping does what Lambda's stream poller does, against moto's dynamodbstreams
endpoint: `describe_stream` for the shards (again at most once a second), one iterator per
shard (TRIM_HORIZON or LATEST as the mapping says), `get_records` with the mapping's batch
size, and the function is invoked with `{"Records": [...]}` shaped like Lambda's DynamoDB
event (moto's records already carry `eventID`, `eventName`, `dynamodb` with the images and
`eventSourceARN`). A failed invocation is retried with the same batch (the iterator does not
advance), up to the mapping's `MaximumRetryAttempts`, then the batch is skipped, as Lambda does without a destination.

Like Lambda, the poller applies the mapping's `FilterCriteria` (records that match no pattern
are dropped, see `local.event_filters`) and, with `ReportBatchItemFailures`, retries a batch
from the first record the function reports in `batchItemFailures` (by sequence number).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from local.event_filters import matches_any
from local.polling import PollingLoop
from local.sqs_poller import Invoke

logger = logging.getLogger(__name__)

SHARDS_MAX_AGE_S = 1.0


@dataclass(frozen=True)
class StreamMappingSpec:
    """A DynamoDB stream event source mapping."""

    function: str  # FunctionSpec.name
    stream_arn: str
    batch_size: int = 100
    starting_position: str = "TRIM_HORIZON"
    maximum_retry_attempts: int = -1  # -1: until the record expires (Lambda's default)
    logical_id: str = ""
    filters: tuple[dict[str, Any], ...] = ()  # FilterCriteria patterns; () = no filtering
    report_batch_item_failures: bool = False


class StreamPoller(PollingLoop):
    """Polls every shard of one stream for one function until `stop()`."""

    def __init__(
        self,
        mapping: StreamMappingSpec,
        streams_client: Any,
        invoke: Invoke,
        idle_wait_s: float = 0.1,
    ) -> None:
        self.mapping = mapping
        self.streams = streams_client
        self.invoke = invoke
        super().__init__(f"stream-poller-{mapping.function}", idle_wait_s)
        self._iterators: dict[str, str] = {}
        self._shards: list[dict[str, Any]] = []
        self._shards_read = 0.0
        self.batches = 0

    def _describe_shards(self) -> list[dict[str, Any]]:
        """The stream's shards, described again at most once a second (they rarely change)."""
        now = time.monotonic()
        if not self._shards or now - self._shards_read >= SHARDS_MAX_AGE_S:
            self._shards = self.streams.describe_stream(StreamArn=self.mapping.stream_arn)[
                "StreamDescription"
            ].get("Shards", [])
            self._shards_read = now
        return self._shards

    def poll_once(self) -> int:
        """Deliver at most one batch per shard; returns how many records were read (filtered
        out or delivered)."""
        read = 0
        for shard in self._describe_shards():
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self.streams.get_shard_iterator(
                    StreamArn=self.mapping.stream_arn,
                    ShardId=shard_id,
                    ShardIteratorType=self.mapping.starting_position,
                )["ShardIterator"]
            response = self.streams.get_records(
                ShardIterator=self._iterators[shard_id], Limit=max(1, self.mapping.batch_size)
            )
            batch = response.get("Records", [])
            records = [r for r in batch if matches_any(self.mapping.filters, r)]
            if records:
                self._deliver(records)
            read += len(batch)
            if response.get("NextShardIterator"):
                self._iterators[shard_id] = response["NextShardIterator"]
        return read

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        attempts = 0
        while records and not self._stop.is_set():
            event = json.dumps({"Records": records}, default=_json_default).encode()
            self.batches += 1
            result = self.invoke(self.mapping.function, event)
            if not result.function_error:
                records = self._unprocessed(records, result)
                if not records:
                    return
            attempts += 1
            limit = self.mapping.maximum_retry_attempts
            logger.info("%s failed a stream batch (attempt %d)", self.mapping.function, attempts)
            if 0 <= limit < attempts:
                logger.warning(
                    "%s: skipping a batch after %d retries", self.mapping.function, limit
                )
                return
            self._stop.wait(0.5)

    def _unprocessed(self, records: list[dict[str, Any]], result: Any) -> list[dict[str, Any]]:
        """The records from the first reported failure on ([] when the batch succeeded)."""
        if not self.mapping.report_batch_item_failures:
            return []
        response = result.json()
        failures = response.get("batchItemFailures") if isinstance(response, dict) else None
        if not failures:
            return []
        sequence = [str(r.get("dynamodb", {}).get("SequenceNumber")) for r in records]
        failed = [str(f.get("itemIdentifier")) for f in failures if isinstance(f, dict)]
        positions = [sequence.index(f) for f in failed if f in sequence]
        if len(positions) != len(failed):
            logger.warning("malformed batchItemFailures %r: retrying the batch", failures)
            return records
        return records[min(positions) :]


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.timestamp()  # ApproximateCreationDateTime: epoch seconds, as Lambda sends
    if isinstance(value, bytes | bytearray):
        import base64

        return base64.b64encode(value).decode()
    raise TypeError(f"cannot encode {type(value)}")
