"""Issue: a queue writer without a signing key. Through the emulation's action queue, forged and
poison messages are refused at once and recorded, leave every genuine plan, action, approval
and case as it was, and never hold their message group: a genuine case on the same entity
finishes promptly afterwards, and its approval still works."""

from __future__ import annotations

import copy
import json
import math
import time
import uuid
from typing import Any

import pytest
import requests
from boto3.dynamodb.types import TypeDeserializer

from tests.local.conftest import wait_for
from tests.local.test_approvals import case, links, post, refund
from tests.local.test_end_to_end import example, finished_case, receiver_requests, submit
from tests.local.test_rejections import _ledger_item, _rejections, _resign

pytestmark = pytest.mark.slow


def _queue(emulation: Any) -> str:
    [url] = [m.queue_url for m in emulation.deployment.event_sources if m.function == "execute"]
    return str(url)


def _send(emulation: Any, body: str, group: str) -> str:
    return str(
        emulation.client("sqs").send_message(
            QueueUrl=_queue(emulation),
            MessageBody=body,
            MessageGroupId=group,
            MessageDeduplicationId=str(uuid.uuid4()),
        )["MessageId"]
    )


def _orphan(emulation: Any, message_id: str) -> dict[str, Any] | None:
    table = emulation.deployment.functions["api"].environment["AIOS_LEDGER_TABLE"]
    item = (
        emulation.client("dynamodb")
        .get_item(
            TableName=table,
            Key={"pk": {"S": f"REJECTION#{message_id}"}, "sk": {"S": "REJECTION"}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    if not item:
        return None
    record = {k: TypeDeserializer().deserialize(v) for k, v in item.items()}
    return {**record, "data": json.loads(record["data"])}


def _genuine(emulation: Any, case_id: str) -> dict[str, Any]:
    recorded = json.loads(_ledger_item(emulation, f"CASE#{case_id}", "PLAN#")["data"])
    action = json.loads(_ledger_item(emulation, f"CASE#{case_id}", "ACTION#")["data"])["planned"]
    return {
        "task_token": "forged-token",
        "plan": recorded["signed"],
        "action": action,
        "attestation": recorded["attestation"],
    }


def test_forged_messages_on_a_waiting_approval_change_nothing_and_the_approval_completes(
    emulation: Any,
) -> None:
    case_id = refund(emulation, order_id="O-9001")
    [link] = links(emulation, case_id).values()
    genuine = _genuine(emulation, case_id)
    changed = copy.deepcopy(genuine)
    changed["action"]["params"]["body"]["amount"] = 99_999  # ACTION_NOT_IN_PLAN
    other_key = copy.deepcopy(genuine)
    key = emulation.client("kms").create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    _resign(emulation, other_key, key["KeyMetadata"]["Arn"])  # SIGNATURE_INVALID (untrusted key)
    group = genuine["action"]["entity_key"]
    for forged in (changed, genuine, other_key):  # the unchanged one: ATTESTATION_MISSING
        _send(emulation, json.dumps(forged), group)

    events = wait_for(
        lambda: r if len(r := _rejections(emulation, case_id)) >= 3 else None,
        timeout=30,
        what="three recorded rejections",
    )
    assert sorted(e["data"]["code"] for e in events) == [
        "ACTION_NOT_IN_PLAN",
        "ATTESTATION_MISSING",
        "SIGNATURE_INVALID",
    ]
    waiting = case(emulation.api_url, case_id)
    assert waiting["status"] == "WAITING_APPROVAL"
    assert [a["status"] for a in waiting["actions"]] == ["PROPOSED"]
    answered = post(link, "approve")
    assert answered.status_code == 200, answered.text
    done = finished_case(emulation.api_url, case_id)
    assert done["status"] == "SUCCEEDED" and done["actions"][0]["status"] == "APPLIED"
    assert len(receiver_requests(emulation, case_id)) == 1


def _poison(genuine: dict[str, Any]) -> dict[str, str]:
    big = copy.deepcopy(genuine)
    big["action"]["params"]["body"] = {"amount": 2**64}
    nan = json.dumps({**genuine, "action": {**genuine["action"], "index": math.nan}})
    deep: Any = "x"
    for _ in range(200):
        deep = {"d": deep}
    nested = copy.deepcopy(genuine)
    nested["action"]["params"]["body"] = deep
    bodies = {
        "out-of-range-integer": json.dumps(big),
        "nan": nan,
        "deeply-nested": json.dumps(nested),
        "not-json": "{" + json.dumps(genuine),
        "top-level-list": json.dumps([genuine]),
        "token-not-a-string": json.dumps({**genuine, "task_token": 7}),
        "plan-not-an-object": json.dumps({**genuine, "plan": "signed"}),
        "envelope-digests-not-a-list": json.dumps(
            {
                **genuine,
                "plan": {
                    **genuine["plan"],
                    "envelope": {**genuine["plan"]["envelope"], "action_digests": "x"},
                },
            }
        ),
        "action-index-not-a-number": json.dumps(
            {**genuine, "action": {**genuine["action"], "index": "first"}}
        ),
        "params-not-an-object": json.dumps(
            {**genuine, "action": {**genuine["action"], "params": ["x"]}}
        ),
        "unknown-field": json.dumps({**genuine, "route": "compensate"}),
        "compensate-wrong-shape": json.dumps({"task_token": "t", "compensate": "everything"}),
    }
    return bodies


def test_poison_messages_are_refused_at_once_and_never_hold_their_group(emulation: Any) -> None:
    api = emulation.api_url
    process, body = example(api)
    first = submit(api, process, {**body, "ticket_id": "T-7001"}, f"poison-{uuid.uuid4()}").json()
    assert finished_case(api, first["case_id"])["status"] == "SUCCEEDED"
    genuine = _genuine(emulation, first["case_id"])
    group = genuine["action"]["entity_key"]
    sent = {kind: _send(emulation, text, group) for kind, text in _poison(genuine).items()}

    started = time.monotonic()
    second = submit(
        api, process, {**body, "ticket_id": "T-7001", "subject": "again"}, f"poison-{uuid.uuid4()}"
    )
    done = finished_case(api, second.json()["case_id"], timeout=60)
    took = time.monotonic() - started
    assert done["status"] == "SUCCEEDED", done
    print(f"genuine case on the poisoned group finished {took:.1f} s after the poison")

    for kind, message_id in sent.items():
        record = wait_for(lambda m=message_id: _orphan(emulation, m), timeout=30, what=kind)
        assert record["data"]["reason"]["code"] == "MALFORMED_MESSAGE", kind
    assert len(receiver_requests(emulation, first["case_id"])) == 1

    def drained() -> bool:
        counts = emulation.client("sqs").get_queue_attributes(
            QueueUrl=_queue(emulation),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return set(counts.values()) == {"0"}

    wait_for(drained, timeout=30, what="no poison message left waiting for a retry")


def test_forged_compensations_are_refused_and_recorded(emulation: Any) -> None:
    api = emulation.api_url
    process, body = example(api)
    healthy = submit(api, process, {**body, "ticket_id": "T-7002"}, f"comp-{uuid.uuid4()}").json()
    before = finished_case(api, healthy["case_id"])
    assert before["status"] == "SUCCEEDED"
    for key in ("guess", "another-guess"):
        text = {"task_token": "forged", "compensate": {"case_id": healthy["case_id"], "key": key}}
        _send(emulation, json.dumps(text), healthy["case_id"])
    unknown = _send(
        emulation,
        json.dumps({"task_token": "forged", "compensate": {"case_id": "c-nowhere", "key": "k"}}),
        "c-nowhere",
    )

    def refused() -> list[dict[str, Any]] | None:
        events = requests.get(f"{api}/cases/{healthy['case_id']}/audit", timeout=10).json()
        found = [e for e in events["events"] if e["type"] == "compensation.rejected"]
        return found if len(found) >= 2 else None

    events = wait_for(refused, timeout=30, what="refused compensations")
    assert {e["data"]["code"] for e in events} == {"COMPENSATION_REFUSED"}
    after = case(api, healthy["case_id"])
    assert after["status"] == "SUCCEEDED"
    assert [a["status"] for a in after["actions"]] == [a["status"] for a in before["actions"]]
    record = wait_for(lambda: _orphan(emulation, unknown), timeout=30, what="orphan compensation")
    assert record["data"]["reason"]["code"] == "COMPENSATION_REFUSED"
