"""The executor: the execution plane as a long-lived process that polls the action queue.

For teams that must keep execution on their own network: the same code as the execute Lambda
function — each message goes through `aios.execution.run_message` with the context
`aios.execution.runtime.execution_context` builds — driven by a receive loop instead of
Lambda's event source. It keeps the event source's contract with partial batch responses on a
FIFO queue (`SqsFifoPartialProcessor(skip_group_on_error=True)`):

- applied, rejected, failed or compensated: the message is deleted (a refusal can never
  succeed and must not hold its message group);
- retry (the outside system may succeed later) or AWS trouble: the message stays, hidden for
  its backoff (`aios.redelivery`), until the queue's `maxReceiveCount` dead-letters it; the
  later messages of its group in the same batch are released unprocessed, so order holds.

Each message runs under a deadline (`message_timeout`, the execute function's timeout), which
the idempotency store uses as Lambda's remaining time: a process that dies mid-action leaves an
in-progress record that expires with that deadline, not days later.

It needs: sqs:ReceiveMessage, DeleteMessage, ChangeMessageVisibility and GetQueueAttributes on
the action queue, and what the execute role has (stacks/executor.py builds exactly that).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aios import aws
from aios.execution import ExecutionContext, Outcome, run_message
from aios.redelivery import hide_for_backoff

MAX_MESSAGES = 10
DEFAULT_WAIT_SECONDS = 20
DEFAULT_MESSAGE_TIMEOUT_SECONDS = 30


@dataclass
class Deadline:
    """Lambda's `get_remaining_time_in_millis` for one message (the idempotency store asks)."""

    seconds: float
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.seconds - (time.monotonic() - self.started)) * 1000))


@dataclass(frozen=True)
class Handled:
    message_id: str
    outcome: Outcome | None
    """None when the message was released unprocessed behind a retry of its group."""


def _transient(exc: BaseException) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError
    from pynamodb.exceptions import PynamoDBException

    return isinstance(exc, BotoCoreError | ClientError | PynamoDBException | OSError)


@dataclass
class Executor:
    """Receives batches from `queue_url` and runs each message once through the execution plane."""

    queue_url: str
    context: ExecutionContext
    wait_seconds: int = DEFAULT_WAIT_SECONDS
    message_timeout: float = DEFAULT_MESSAGE_TIMEOUT_SECONDS
    on_deadline: Callable[[Deadline], None] = field(default=lambda _: None)
    """Called before each message with its deadline (the idempotency config registers it)."""
    on_outcome: Callable[[Handled], None] = field(default=lambda _: None)
    runner: Callable[[str, str, ExecutionContext], Outcome] = run_message
    """The decision tree each message goes through (`aios.execution.run_message`)."""

    def poll_once(self, should_stop: Callable[[], bool] = lambda: False) -> list[Handled]:
        """One receive (long polling up to `wait_seconds`) and its messages, in order. Once
        `should_stop()` is true the rest of the batch is released unprocessed, so a stopping
        process finishes only the message at hand."""
        sqs = aws.client("sqs")
        messages: list[dict[str, Any]] = sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=MAX_MESSAGES,
            WaitTimeSeconds=self.wait_seconds,
            AttributeNames=["All"],
        ).get("Messages", [])
        held: set[str] = set()
        handled = []
        for message in messages:
            attributes = message.get("Attributes", {})
            group = str(attributes.get("MessageGroupId", ""))
            if group in held or should_stop():
                sqs.change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=0,
                )
                handled.append(Handled(message["MessageId"], None))
                continue
            outcome = self._run(message)
            if outcome.kind == "retry":
                held.add(group)
                count = int(attributes.get("ApproximateReceiveCount", "1"))
                hide_for_backoff(self.queue_url, message["ReceiptHandle"], count)
            else:
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            done = Handled(message["MessageId"], outcome)
            self.on_outcome(done)
            handled.append(done)
        return handled

    def _run(self, message: dict[str, Any]) -> Outcome:
        self.on_deadline(Deadline(self.message_timeout))
        try:
            return self.runner(message["MessageId"], message["Body"], self.context)
        except Exception as exc:  # the boundary: AWS trouble is retried like Lambda would
            if not _transient(exc):
                raise
            return Outcome("retry", error={"code": "TRANSIENT", "message": str(exc)[:2000]})

    def run(self, should_stop: Callable[[], bool]) -> int:
        """Poll until `should_stop()` is true (checked between messages); returns the number of
        messages handled."""
        count = 0
        while not should_stop():
            count += sum(1 for h in self.poll_once(should_stop) if h.outcome is not None)
        return count
