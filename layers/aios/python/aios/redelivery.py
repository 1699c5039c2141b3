"""Retry later: push a message that failed for now further out each time it comes back.

A consumer that cannot process a message yet (the outside system is down) leaves it in its
queue and sets its visibility to an exponential backoff (5 s, 10 s, 20 s, ... at most 300 s)
by its receive count, so retries spread out until the queue's `maxReceiveCount` dead-letters it.
"""

from __future__ import annotations

from aios import aws

BACKOFF_BASE_SECONDS = 5
BACKOFF_MAX_SECONDS = 300


def backoff_seconds(receive_count: int) -> int:
    """The delay before the next attempt after `receive_count` receives."""
    return int(min(BACKOFF_BASE_SECONDS * 2 ** (max(receive_count, 1) - 1), BACKOFF_MAX_SECONDS))


def retry_later(queue_arn: str, receipt_handle: str, receive_count: int) -> int:
    """Hide the message for its backoff; returns the delay in seconds."""
    delay = backoff_seconds(receive_count)
    sqs = aws.client("sqs")
    queue_url = sqs.get_queue_url(QueueName=queue_arn.split(":")[-1])["QueueUrl"]
    sqs.change_message_visibility(
        QueueUrl=queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=delay
    )
    return delay
