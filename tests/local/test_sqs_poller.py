"""The SQS event source poller against a queue in moto, with tiny handlers in a temp folder."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from local.assembly import EventSourceMappingSpec, FunctionSpec
from local.lambda_runtime import LambdaRuntime
from local.sqs_poller import SqsPoller
from tests.local.conftest import wait_for, write_function

# Appends every record it gets to $OUT; fails the records whose body says so.
HANDLER = """
import json, os

def handler(event, context):
    failures = []
    with open(os.environ["OUT"], "a") as out:
        for record in event["Records"]:
            out.write(json.dumps(record) + "\\n")
            if record["body"] == "crash":
                raise RuntimeError("handler crashed")
            if record["body"].startswith("fail"):
                failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
"""


@pytest.fixture
def consumer(tmp_path: Path) -> tuple[LambdaRuntime, Path]:
    out = tmp_path / "records.jsonl"
    out.touch()
    rt = LambdaRuntime([])
    folder = write_function(tmp_path, "consumer", HANDLER)
    rt.register(
        FunctionSpec(
            name="consumer", folder=folder, handler="app.handler", environment={"OUT": str(out)}
        )
    )
    return rt, out


def records(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.read_text().splitlines()]


def make_queue(sqs: Any, fifo: bool, max_receive: int | None) -> tuple[str, str, str | None]:
    suffix = ".fifo" if fifo else ""
    base = {"FifoQueue": "true"} if fifo else {}
    dlq_url = dlq_arn = None
    if max_receive:
        dlq_url = sqs.create_queue(
            QueueName=f"dlq-{uuid.uuid4().hex[:8]}{suffix}", Attributes=base
        )["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        base = {
            **base,
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive}
            ),
        }
    url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}{suffix}", Attributes=base)[
        "QueueUrl"
    ]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn, dlq_url


@pytest.fixture
def start_poller(aws_clients: Callable[[str], Any]) -> Iterator[Callable[..., SqsPoller]]:
    pollers: list[SqsPoller] = []

    def start(rt: LambdaRuntime, url: str, arn: str, batch_size: int = 10) -> SqsPoller:
        mapping = EventSourceMappingSpec(
            function="consumer",
            queue_url=url,
            queue_arn=arn,
            batch_size=batch_size,
            report_batch_item_failures=True,
        )
        poller = SqsPoller(mapping, aws_clients("sqs"), rt.invoke, visibility_timeout=1)
        pollers.append(poller.start())
        return poller

    yield start
    for poller in pollers:
        poller.stop()


def queue_depth(sqs: Any, url: str) -> int:
    attrs = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )


def test_partial_batch_failure_is_retried_then_moved_to_the_dlq(
    consumer: tuple[LambdaRuntime, Path], aws_clients: Any, start_poller: Any
) -> None:
    rt, out = consumer
    sqs = aws_clients("sqs")
    url, arn, dlq_url = make_queue(sqs, fifo=False, max_receive=2)
    for body in ("ok-1", "fail-1", "ok-2"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    start_poller(rt, url, arn)

    def dead_lettered() -> list[dict[str, Any]]:
        return sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10).get("Messages", [])

    [dead] = wait_for(dead_lettered, timeout=20, what="the failed message in the DLQ")
    assert dead["Body"] == "fail-1"
    wait_for(lambda: queue_depth(sqs, url) == 0, timeout=10, what="an empty source queue")
    seen = records(out)
    assert sorted(r["body"] for r in seen if r["body"].startswith("ok")) == ["ok-1", "ok-2"]
    fail_counts = [
        r["attributes"]["ApproximateReceiveCount"] for r in seen if r["body"] == "fail-1"
    ]
    assert fail_counts == ["1", "2"]  # maxReceiveCount deliveries, then the DLQ


def test_handler_crash_leaves_the_whole_batch_for_redelivery(
    consumer: tuple[LambdaRuntime, Path], aws_clients: Any, start_poller: Any
) -> None:
    rt, out = consumer
    sqs = aws_clients("sqs")
    url, arn, _ = make_queue(sqs, fifo=True, max_receive=None)
    for body in ("before", "crash"):
        sqs.send_message(
            QueueUrl=url, MessageBody=body, MessageGroupId="g", MessageDeduplicationId=body
        )
    start_poller(rt, url, arn)
    wait_for(
        lambda: [r for r in records(out) if r["body"] == "before"][1:],
        timeout=20,
        what="the batch delivered a second time",
    )
    assert queue_depth(sqs, url) == 2  # nothing was deleted


def test_records_are_genuine_sqs_lambda_events(
    consumer: tuple[LambdaRuntime, Path], aws_clients: Any, start_poller: Any
) -> None:
    rt, out = consumer
    sqs = aws_clients("sqs")
    url, arn, _ = make_queue(sqs, fifo=True, max_receive=None)
    sent = sqs.send_message(
        QueueUrl=url,
        MessageBody='{"hello": "world"}',
        MessageGroupId="ticket#T-1",
        MessageDeduplicationId="action-1",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "action"}},
    )
    start_poller(rt, url, arn)
    [record] = wait_for(lambda: records(out), timeout=10, what="one record")
    assert record["messageId"] == sent["MessageId"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == arn
    assert record["awsRegion"] == "us-east-1"
    assert record["body"] == '{"hello": "world"}'
    assert record["md5OfBody"] == sent["MD5OfMessageBody"]
    assert record["receiptHandle"]
    attributes = record["attributes"]
    assert attributes["ApproximateReceiveCount"] == "1"
    assert attributes["MessageGroupId"] == "ticket#T-1"
    assert attributes["MessageDeduplicationId"] == "action-1"
    assert attributes["SentTimestamp"].isdigit()
    assert record["messageAttributes"]["kind"] == {
        "stringValue": "action",
        "binaryValue": None,
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    wait_for(lambda: queue_depth(sqs, url) == 0, timeout=10, what="the message deleted")


def test_visibility_override_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from local.sqs_poller import VISIBILITY_OVERRIDE_VARIABLE, visibility_override

    monkeypatch.delenv(VISIBILITY_OVERRIDE_VARIABLE, raising=False)
    assert visibility_override() is None
    monkeypatch.setenv(VISIBILITY_OVERRIDE_VARIABLE, "2")
    assert visibility_override() == 2
    monkeypatch.setenv(VISIBILITY_OVERRIDE_VARIABLE, "-1")
    with pytest.raises(ValueError, match="AIOS_LOCAL_VISIBILITY_TIMEOUT"):
        visibility_override()
