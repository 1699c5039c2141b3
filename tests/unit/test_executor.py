"""The executor's receive loop keeps the Lambda event source's FIFO contract (partial batch
responses, skip the group on error): done or refused messages are deleted, a retry is hidden for
its backoff and the rest of its group is released unprocessed, AWS trouble is a retry."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest
from aios.execution import Outcome
from aios.executor import Executor


def _queue() -> str:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(
        QueueName=f"actions-{uuid.uuid4().hex[:8]}.fifo",
        Attributes={"FifoQueue": "true", "VisibilityTimeout": "180"},
    )["QueueUrl"]
    return str(url)


def _send(url: str, body: str, group: str) -> None:
    boto3.client("sqs").send_message(
        QueueUrl=url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=body
    )


def _counts(url: str) -> tuple[int, int]:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


class Script:
    """Stands in for `run_message`: the outcome per body, and the bodies it was given."""

    def __init__(self, outcomes: dict[str, Any]) -> None:
        self.outcomes = outcomes
        self.seen: list[str] = []

    def __call__(self, message_id: str, body: str, ctx: Any) -> Outcome:
        self.seen.append(body)
        outcome = self.outcomes[body]
        if isinstance(outcome, Exception):
            raise outcome
        return Outcome(outcome)


def test_a_retry_holds_its_group_and_the_other_groups_go_on(aws: None) -> None:
    url = _queue()
    for body, group in (("a1", "g1"), ("a2", "g1"), ("b1", "g2")):
        _send(url, body, group)
    script = Script({"a1": "retry", "a2": "applied", "b1": "rejected"})
    handled = Executor(url, context=None, wait_seconds=0, runner=script).poll_once()  # type: ignore[arg-type]
    assert script.seen == ["a1", "b1"]  # a2 was not run: its group waits behind a1
    assert [h.outcome.kind if h.outcome else None for h in handled] == ["retry", None, "rejected"]
    visible, hidden = _counts(url)
    assert (visible, hidden) == (1, 1)  # a2 released, a1 hidden for its backoff, b1 deleted


def test_aws_trouble_is_a_retry_and_a_bug_is_not_swallowed(aws: None) -> None:
    from botocore.exceptions import EndpointConnectionError

    url = _queue()
    _send(url, "x", "g")
    trouble = Script({"x": EndpointConnectionError(endpoint_url="https://dynamodb")})
    [handled] = Executor(url, context=None, wait_seconds=0, runner=trouble).poll_once()  # type: ignore[arg-type]
    assert handled.outcome is not None and handled.outcome.kind == "retry"
    assert _counts(url) == (0, 1)
    boto3.client("sqs").purge_queue(QueueUrl=url)
    _send(url, "y", "g2")
    bug = Script({"y": KeyError("bug")})
    with pytest.raises(KeyError):
        Executor(url, context=None, wait_seconds=0, runner=bug).poll_once()  # type: ignore[arg-type]


def test_the_deadline_counts_down_for_the_idempotency_store() -> None:
    from aios.executor import Deadline

    deadline = Deadline(30, started=0.0)
    assert deadline.get_remaining_time_in_millis() == 0  # started long ago
    assert 29_000 < Deadline(30).get_remaining_time_in_millis() <= 30_000


def test_a_stopping_executor_finishes_the_message_at_hand_and_releases_the_rest(aws: None) -> None:
    url = _queue()
    for body in ("m1", "m2", "m3"):
        _send(url, body, body)
    script = Script({"m1": "applied", "m2": "applied", "m3": "applied"})
    executor = Executor(url, context=None, wait_seconds=0, runner=script)  # type: ignore[arg-type]
    handled = executor.poll_once(should_stop=lambda: bool(script.seen))
    assert script.seen == ["m1"]
    assert [h.outcome is not None for h in handled] == [True, False, False]
    assert _counts(url) == (2, 0)  # the two released at once, m1 deleted
