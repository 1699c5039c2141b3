"""The action bus: the FIFO queue between the case machine and the execute function."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

MAX_RECEIVE_COUNT = 5


class ActionBus(Construct):
    """``ActionQueue`` (FIFO, one group per entity) and its FIFO dead-letter queue.

    Content-based deduplication is off: the state machine sets MessageDeduplicationId to the
    action id, so a resent action is dropped by SQS even if its body (task token) differs.
    With `high_throughput`, deduplication and the throughput limit are per message group: an
    action always goes to its entity's group (a compensation to its case's), so a resend still
    meets its first copy, and throughput grows with the number of entities.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        consumer_timeout: Duration,
        high_throughput: bool = True,
    ) -> None:
        super().__init__(scope, id)
        self.dead_letter_queue = sqs.Queue(
            self,
            "ActionDeadLetterQueue",
            fifo=True,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.queue = sqs.Queue(
            self,
            "ActionQueue",
            fifo=True,
            content_based_deduplication=False,
            deduplication_scope=sqs.DeduplicationScope.MESSAGE_GROUP if high_throughput else None,
            fifo_throughput_limit=sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID
            if high_throughput
            else None,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            # AWS guidance for Lambda event sources: six times the function timeout.
            visibility_timeout=Duration.seconds(6 * consumer_timeout.to_seconds()),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=MAX_RECEIVE_COUNT
            ),
        )
