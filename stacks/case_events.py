"""Case events: the kit's EventBridge bus, the stream publisher and the webhook deliveries.

The ledger's stream feeds `case_events` (only new audit items, by an event filter), which puts
one event per change on the bus. A rule on the bus sends the events that a process's webhook
subscribes to (`detail.webhook = true`) to the webhook queue, read by `webhooks`; deliveries
that fail for good, or too often, end in the webhook dead-letter queue. Batches the publisher
cannot put after its retries are recorded in the stream-failures queue.
"""

from __future__ import annotations

import json

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk.aws_lambda_event_sources import DynamoEventSource, SqsDlq, SqsEventSource
from constructs import Construct

from stacks.config import AiosConfig
from stacks.connector_secrets import ConnectorSecrets
from stacks.functions import LEDGER_READ, AiosFunction
from stacks.ledger import Ledger
from stacks.nag import acknowledge

SOURCE = "aios.kit"
WEBHOOK_MAX_RECEIVES = 5
WEBHOOK_TIMEOUT = Duration.seconds(30)


def _queue(scope: Construct, id: str, **kwargs: object) -> sqs.Queue:
    return sqs.Queue(
        scope,
        id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        **kwargs,  # type: ignore[arg-type]
    )


class CaseEvents(Construct):
    """The bus, `case_events` (ledger stream -> bus) and `webhooks` (queue -> HTTPS)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: AiosConfig,
        ledger: Ledger,
        connector_secrets: ConnectorSecrets,
        layers: list[lambda_.ILayerVersion],
    ) -> None:
        super().__init__(scope, id)
        self.bus = events.EventBus(self, "Bus", description="AIOS case lifecycle events")
        self.publisher = AiosFunction(
            self,
            "Publisher",
            name="case_events",
            config=config,
            layers=layers,
            timeout=Duration.seconds(60),
            environment={
                "AIOS_LEDGER_TABLE": ledger.table.table_name,
                "AIOS_EVENT_BUS": self.bus.event_bus_name,
            },
        )
        ledger.table.grant(self.publisher.role, *LEDGER_READ)
        self.bus.grant_put_events_to(self.publisher.role)
        self.stream_failures = _queue(self, "StreamFailures", retention_period=Duration.days(14))
        acknowledge(
            self.stream_failures,
            id="AwsSolutions-SQS3",
            reason="it is the failure destination of the ledger stream mapping itself",
        )
        self.publisher.function.add_event_source(
            DynamoEventSource(
                ledger.table,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=100,
                retry_attempts=10,
                bisect_batch_on_error=True,
                report_batch_item_failures=True,
                on_failure=SqsDlq(self.stream_failures),
                filters=[
                    lambda_.FilterCriteria.filter(
                        {
                            "eventName": lambda_.FilterRule.is_equal("INSERT"),
                            "dynamodb": {
                                "Keys": {"sk": {"S": lambda_.FilterRule.begins_with("AUDIT#")}}
                            },
                        }
                    )
                ],
            )
        )

        self.webhook_dead_letters = _queue(
            self, "WebhookDeadLetterQueue", retention_period=Duration.days(14)
        )
        self.webhook_queue = _queue(
            self,
            "WebhookQueue",
            visibility_timeout=Duration.seconds(6 * WEBHOOK_TIMEOUT.to_seconds()),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.webhook_dead_letters, max_receive_count=WEBHOOK_MAX_RECEIVES
            ),
        )
        self.webhooks = AiosFunction(
            self,
            "Webhooks",
            name="webhooks",
            config=config,
            layers=layers,
            timeout=WEBHOOK_TIMEOUT,
            environment={
                "AIOS_HTTP_TARGETS": json.dumps(config.http_targets, sort_keys=True),
                "AIOS_HTTP_TIMEOUT_SECONDS": str(config.http_timeout_seconds),
                "AIOS_HTTP_SECRET_ARN": connector_secrets.http_keys.secret_arn,
                "AIOS_WEBHOOK_DLQ_URL": self.webhook_dead_letters.queue_url,
            },
        )
        connector_secrets.http_keys.grant_read(self.webhooks.role)
        self.webhook_dead_letters.grant_send_messages(self.webhooks.role)
        self.webhooks.function.add_event_source(
            SqsEventSource(
                self.webhook_queue,
                batch_size=10,
                report_batch_item_failures=True,
                # Subscribers' endpoints see at most this many deliveries at once.
                max_concurrency=config.webhooks_max_concurrency,
            )
        )
        self.webhook_rule = events.Rule(
            self,
            "WebhookRule",
            description="AIOS: case events a process's webhook subscribes to",
            event_bus=self.bus,
            event_pattern=events.EventPattern(source=[SOURCE], detail={"webhook": [True]}),
            targets=[targets.SqsQueue(self.webhook_queue)],
        )

    @property
    def functions(self) -> list[AiosFunction]:
        return [self.publisher, self.webhooks]
