"""Guarantee 10 through the emulation: cases run, a forged message is refused, the scheduled
`audit_checkpoint` function (invoked as EventBridge would) signs the moved heads into the
Object Lock bucket; then `aios audit verify` finds an untouched case VALID, and names a case
whose events were rewritten together with its head, and a case deleted whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from aios.audit import chain_events
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from tests.local.conftest import ROOT, wait_for
from tests.local.test_end_to_end import example, finished_case, submit
from tests.local.test_queue_forgery import _orphan, _send

pytestmark = pytest.mark.slow


def _table(emulation: Any) -> str:
    return str(emulation.deployment.functions["api"].environment["AIOS_LEDGER_TABLE"])


def _verify(emulation: Any, *target: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **emulation.cli_environment()}
    return subprocess.run(
        [sys.executable, "-m", "local.cli", "audit", "verify", *target],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _checkpoint(emulation: Any) -> dict[str, Any]:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    event = {
        "version": "0", "id": f"anchor-{uuid.uuid4()}", "detail-type": "Scheduled Event",
        "source": "aws.events", "time": stamp, "region": emulation.region,
        "resources": [], "detail": {},
    }  # fmt: skip
    result = emulation.runtime.invoke("audit_checkpoint", json.dumps(event))
    assert result.function_error is None, result.payload
    return dict(json.loads(result.payload))


def _case(emulation: Any) -> str:
    process, body = example(emulation.api_url)
    body["ticket_id"] = f"T-{uuid.uuid4().int % 10**9}"
    case_id = str(submit(emulation.api_url, process, body).json()["case_id"])
    assert finished_case(emulation.api_url, case_id)["status"] == "SUCCEEDED"
    return case_id


def _listing(emulation: Any) -> bool:
    """Whether the API answers (a first, cold call may time out on a loaded machine)."""
    try:
        response = requests.get(f"{emulation.api_url}/processes", timeout=30)
    except requests.RequestException:
        return False
    return response.status_code == 200


@pytest.fixture(scope="module")
def anchored(emulation: Any) -> dict[str, Any]:
    """Three finished cases and an orphan rejection, then one checkpoint."""
    wait_for(lambda: _listing(emulation), timeout=120, what="the API to list the processes")
    cases = [_case(emulation) for _ in range(3)]
    message_id = _send(emulation, "{not json", f"forged-{uuid.uuid4()}")
    wait_for(lambda: _orphan(emulation, message_id), timeout=30, what="the orphan rejection")
    return {"cases": cases, "rejection": message_id, "checkpoint": _checkpoint(emulation)}


def _items(emulation: Any, case_id: str) -> list[dict[str, Any]]:
    ddb = emulation.client("dynamodb")
    items = ddb.query(
        TableName=_table(emulation),
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"CASE#{case_id}"}},
        ConsistentRead=True,
    )["Items"]
    return [{k: TypeDeserializer().deserialize(v) for k, v in i.items()} for i in items]


def _rewrite(emulation: Any, case_id: str) -> None:
    """A writer of the table rewrites every event from the second on, and the head, so the
    chain verifies on its own."""
    ddb, table = emulation.client("dynamodb"), _table(emulation)
    events = [i for i in _items(emulation, case_id) if i["sk"].startswith("AUDIT#")]
    first = events[0]
    forged = chain_events(
        case_id,
        1,
        str(first["head"]),
        [(str(e["status"]), {**json.loads(e["data"]), "forged": True}) for e in events[1:]],
        str(events[1]["created_at"]),
    )
    for event in forged:
        ddb.update_item(
            TableName=table,
            Key={"pk": {"S": f"CASE#{case_id}"}, "sk": {"S": f"AUDIT#{event.seq:010d}"}},
            UpdateExpression="SET #d = :d, head = :h, prev_hash = :p, created_at = :a",
            ExpressionAttributeNames={"#d": "data"},
            ExpressionAttributeValues={
                ":d": {"S": json.dumps(event.data)},
                ":h": {"S": event.hash},
                ":p": {"S": event.prev_hash},
                ":a": {"S": event.at},
            },
        )
    ddb.update_item(
        TableName=table,
        Key={"pk": {"S": f"CASE#{case_id}"}, "sk": {"S": "CASE"}},
        UpdateExpression="SET head = :h",
        ExpressionAttributeValues={":h": {"S": forged[-1].hash}},
    )


def test_the_checkpoint_anchors_the_cases_and_the_orphan_rejection(
    emulation: Any, anchored: dict[str, Any]
) -> None:
    s3 = emulation.client("s3")
    bucket = emulation.cli_environment()["AIOS_AUDIT_BUCKET"]
    stored = json.loads(
        s3.get_object(Bucket=bucket, Key=anchored["checkpoint"]["object_key"])["Body"].read()
    )
    pks = {h["pk"] for h in stored["checkpoint"]["heads"]}
    assert {f"CASE#{c}" for c in anchored["cases"]} <= pks
    assert f"REJECTION#{anchored['rejection']}" in pks
    head = s3.head_object(Bucket=bucket, Key=anchored["checkpoint"]["object_key"])
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC)


def test_an_untouched_case_verifies_against_the_checkpoint(
    emulation: Any, anchored: dict[str, Any]
) -> None:
    result = _verify(emulation, anchored["cases"][0])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "checkpoints VALID" in result.stdout and "chain VALID" in result.stdout
    assert "anchor VALID: the chain extends the heads of checkpoints" in result.stdout


def test_events_rewritten_with_their_head_are_detected(
    emulation: Any, anchored: dict[str, Any]
) -> None:
    case_id = anchored["cases"][1]
    _rewrite(emulation, case_id)
    result = _verify(emulation, case_id)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "chain VALID" in result.stdout  # on its own the forged chain holds together
    assert "anchor BROKEN: rewritten: event" in result.stdout


def test_a_deleted_case_is_detected(emulation: Any, anchored: dict[str, Any]) -> None:
    case_id = anchored["cases"][2]
    for item in _items(emulation, case_id):
        emulation.client("dynamodb").delete_item(
            TableName=_table(emulation),
            Key={"pk": {"S": item["pk"]}, "sk": {"S": item["sk"]}},
        )
    result = _verify(emulation, case_id)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "anchor BROKEN: deleted: checkpoint" in result.stdout


def test_verify_all_names_each_anchored_chain(emulation: Any, anchored: dict[str, Any]) -> None:
    _checkpoint(emulation)  # a second, chained to the first
    result = _verify(emulation, "--all")
    lines = result.stdout.splitlines()
    valid, rewritten, deleted = (f"CASE#{c}" for c in anchored["cases"])
    assert any(line.startswith(f"VALID   {valid} ") for line in lines), result.stdout
    assert any(line.startswith(f"VALID   REJECTION#{anchored['rejection']} ") for line in lines)
    assert any(line.startswith(f"BROKEN  {rewritten} ") for line in lines)
    assert any(line.startswith(f"BROKEN  {deleted}  deleted") for line in lines)
    assert result.returncode == 1


def test_a_tampered_checkpoint_fails_verification_and_the_locked_one_stays(
    emulation: Any, anchored: dict[str, Any]
) -> None:
    """Last: it leaves a forged newest version in the shared bucket. moto refuses deleting a
    locked version; an overwrite is a new version, the locked one is kept as it was."""
    s3 = emulation.client("s3")
    bucket = emulation.cli_environment()["AIOS_AUDIT_BUCKET"]
    key = anchored["checkpoint"]["object_key"]
    [locked] = [
        v for v in s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"] if v["Key"] == key
    ]
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.delete_object(Bucket=bucket, Key=key, VersionId=locked["VersionId"])
    original = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    forged = json.loads(original)
    forged["checkpoint"]["heads"] = []
    s3.put_object(
        Bucket=bucket, Key=key, Body=json.dumps(forged).encode(), ChecksumAlgorithm="SHA256"
    )
    result = _verify(emulation, anchored["cases"][0])
    assert result.returncode == 1, result.stdout + result.stderr
    assert "checkpoints INVALID" in result.stdout and "does not verify" in result.stdout
    kept = s3.get_object(Bucket=bucket, Key=key, VersionId=locked["VersionId"])["Body"].read()
    assert kept == original
