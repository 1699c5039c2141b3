"""Dead-letter queues: look at what is in one without consuming it, and move it back.

`peek` receives up to `limit` messages, holding each out of sight only while it looks, and
`release` makes them visible again at once, so looking never consumes anything. A FIFO queue
shows at most one batch of a message group while that batch is held: a group with more dead
messages than one receive returns is seen in part (the rest after a redrive or release).

`redrive` moves messages back to the queue they came from: it sends each one first and deletes
it from the dead-letter queue only then, so a crash in between leaves a copy in both places
rather than none. A FIFO message keeps its group and gets a new deduplication id
(`<original>.redrive.<dead-letter message id>`: SQS would drop a resend of the original id
within five minutes, and a repeated redrive of the same message is still deduplicated). The
consumers are idempotent (the execute function applies an action at most once per action id;
webhook receivers deduplicate on the event id), so a duplicate is harmless.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

RECEIVE_BATCH = 10
DEDUP_ID_MAX = 128


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    receipt_handle: str
    body: str
    receive_count: int
    sent_at: int
    """Epoch milliseconds of the first send (to the original queue)."""
    group_id: str | None = None
    deduplication_id: str | None = None


def _letter(message: dict[str, Any]) -> DeadLetter:
    attributes = message.get("Attributes", {})
    return DeadLetter(
        message_id=message["MessageId"],
        receipt_handle=message["ReceiptHandle"],
        body=message["Body"],
        receive_count=int(attributes.get("ApproximateReceiveCount", 0)),
        sent_at=int(attributes.get("SentTimestamp", 0)),
        group_id=attributes.get("MessageGroupId"),
        deduplication_id=attributes.get("MessageDeduplicationId"),
    )


def peek(sqs: Any, queue_url: str, limit: int = 100, hold_seconds: int = 30) -> list[DeadLetter]:
    """Up to `limit` messages of the queue, held out of sight for `hold_seconds` (release them
    when done); each message once."""
    letters: dict[str, DeadLetter] = {}
    while len(letters) < limit:
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(RECEIVE_BATCH, limit - len(letters)),
            VisibilityTimeout=hold_seconds,
            WaitTimeSeconds=0,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in letters]
        if not fresh:
            break
        letters.update((m["MessageId"], _letter(m)) for m in fresh)
    return list(letters.values())


def release(sqs: Any, queue_url: str, letters: Collection[DeadLetter]) -> None:
    """Make held messages visible again at once."""
    entries = [
        {"Id": str(i), "ReceiptHandle": letter.receipt_handle, "VisibilityTimeout": 0}
        for i, letter in enumerate(letters)
    ]
    for start in range(0, len(entries), RECEIVE_BATCH):
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url, Entries=entries[start : start + RECEIVE_BATCH]
        )


def redrive(
    sqs: Any, dlq_url: str, queue_url: str, message_ids: Collection[str] | None = None
) -> list[DeadLetter]:
    """Move the dead letters (all, or those named) back to `queue_url`; returns those moved."""
    letters = peek(sqs, dlq_url)
    chosen = [m for m in letters if message_ids is None or m.message_id in message_ids]
    release(sqs, dlq_url, [m for m in letters if m not in chosen])
    for letter in chosen:
        send: dict[str, Any] = {"QueueUrl": queue_url, "MessageBody": letter.body}
        if letter.group_id is not None:
            send["MessageGroupId"] = letter.group_id
            original = letter.deduplication_id or letter.message_id
            send["MessageDeduplicationId"] = f"{original}.redrive.{letter.message_id}"[
                :DEDUP_ID_MAX
            ]
        sqs.send_message(**send)
        sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=letter.receipt_handle)
    return chosen
