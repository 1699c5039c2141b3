"""The action bus: the FIFO queue between the case machine and the execute function."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
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
        queue_name: str | None = None,
        dead_letter_queue_name: str | None = None,
        high_throughput: bool = True,
    ) -> None:
        """Names are given only when another account's policy must name the queue."""
        super().__init__(scope, id)
        self.dead_letter_queue = sqs.Queue(
            self,
            "ActionDeadLetterQueue",
            queue_name=dead_letter_queue_name,
            fifo=True,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.queue = sqs.Queue(
            self,
            "ActionQueue",
            queue_name=queue_name,
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

    def allow_sender(self, account: str, role_arn: str) -> None:
        """Let one role of another account send signed actions (the case machine's role, by
        name: the role need not exist yet when this policy is written). Nothing else is
        allowed to it: it cannot receive, delete or purge."""
        self.queue.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CaseMachineSendsActions",
                principals=[iam.AccountPrincipal(account)],
                actions=["sqs:SendMessage"],
                resources=[self.queue.queue_arn],
                conditions={"ArnEquals": {"aws:PrincipalArn": role_arn}},
            )
        )
