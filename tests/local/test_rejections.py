"""Guarantee 3 through the emulation: a message put on the action queue that is tampered,
replayed, expired, mis-addressed, oversized or off-policy is rejected before anything is applied,
the reason is recorded, and the outside system sees nothing."""

from __future__ import annotations

import base64
import copy
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from aios.attestations import AttestationClaim, claim_bytes
from aios.signing import canonical_json, digest
from boto3.dynamodb.types import TypeDeserializer

from tests.local.conftest import wait_for
from tests.local.test_end_to_end import example, finished_case, receiver_requests, submit

pytestmark = pytest.mark.slow
Message = dict[str, Any]


def _ledger_item(emulation: Any, pk: str, sk_prefix: str) -> dict[str, Any]:
    table = emulation.deployment.functions["api"].environment["AIOS_LEDGER_TABLE"]
    items = emulation.client("dynamodb").query(
        TableName=table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :sk)",
        ExpressionAttributeValues={":pk": {"S": pk}, ":sk": {"S": sk_prefix}},
    )["Items"]
    return {k: TypeDeserializer().deserialize(v) for k, v in items[0].items()}


@pytest.fixture(scope="module")
def applied(emulation: Any) -> dict[str, Any]:
    """A finished case, and the genuine queue message of its http.post action."""
    api = emulation.api_url
    process, body = example(api)
    body["ticket_id"] = "T-6001"
    case_id = submit(api, process, body, f"rej-{uuid.uuid4()}").json()["case_id"]
    assert finished_case(api, case_id)["status"] == "SUCCEEDED"
    recorded = json.loads(_ledger_item(emulation, f"CASE#{case_id}", "PLAN#")["data"])
    action = json.loads(_ledger_item(emulation, f"CASE#{case_id}", "ACTION#001")["data"])["planned"]
    first = json.loads(_ledger_item(emulation, f"CASE#{case_id}", "ACTION#000")["data"])["planned"]
    other = submit(api, process, {**body, "ticket_id": "T-6002"}, f"rej-{uuid.uuid4()}").json()
    finished_case(api, other["case_id"])
    return {
        "case_id": case_id,
        "other": other["case_id"],
        "plan": recorded["signed"],
        "attestation": recorded["attestation"],  # the plan's signed policy attestation
        "action": action,
        "first": first,  # the plan's other action (both went in one message: one entity)
    }


def _resign(emulation: Any, message: Message, key_id: str | None = None) -> Message:
    """Re-sign an edited plan with a KMS key the way decide does (RAW over canonical bytes)."""
    envelope = message["plan"]["envelope"]
    if key_id:
        envelope["key_id"] = key_id
    signature = emulation.client("kms").sign(
        KeyId=envelope["key_id"],
        Message=canonical_json(envelope),
        MessageType="RAW",
        SigningAlgorithm="ECDSA_SHA_256",
    )["Signature"]
    message["plan"]["signature"] = base64.b64encode(signature).decode()
    return message


def _with_action(emulation: Any, message: Message, **changes: Any) -> Message:
    """Change the action, list its new digest in the plan and sign with the real plan key."""
    action = {**message["action"], **changes}
    signed_part = {k: v for k, v in action.items() if k not in ("gate", "digest")}
    action["digest"] = digest(signed_part)
    message["action"] = action
    message["plan"]["envelope"]["action_digests"][action["index"]] = action["digest"]
    return _resign(emulation, message)


def tampered_params(emulation: Any, m: Message, ctx: dict[str, Any]) -> Message:
    m["action"]["params"]["path"] = "/tickets/T-6001/refund"
    return m


def another_key(emulation: Any, m: Message, ctx: dict[str, Any]) -> Message:
    key = emulation.client("kms").create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    return _resign(emulation, m, key["KeyMetadata"]["Arn"])


def replayed(emulation: Any, m: Message, ctx: dict[str, Any]) -> Message:
    return m  # the genuine message of an applied action, after its dedup window


def expired(emulation: Any, m: Message, ctx: dict[str, Any]) -> Message:
    past = datetime.now(UTC) - timedelta(minutes=1)
    m["plan"]["envelope"]["expires_at"] = past.replace(microsecond=0).isoformat()
    return _resign(emulation, m)


def moved_to_another_case(emulation: Any, m: Message, ctx: dict[str, Any]) -> Message:
    return _with_action(emulation, m, case_id=ctx["other"])


def unknown_capability(emulation: Any, m: Message, ctx: dict[str, Any]) -> Message:
    return _with_action(emulation, m, capability="payments.refund_all")


def params_fail_schema(emulation: Any, m: Message, ctx: dict[str, Any]) -> Message:
    return _with_action(
        emulation, m, params={"target": "helpdesk", "path": "//evil.example/x", "body": {}}
    )


def no_signed_attestation(emulation: Any, m: Message, ctx: dict[str, Any]) -> Message:
    return {**m, "attestation": None}  # the ledger row says APPLIED with its attestation


def human_attestation_by_the_policy_key(emulation: Any, m: Message, ctx: dict[str, Any]) -> Message:
    """What a holder of the policy key (decide) would forge: a human approval."""
    claim = AttestationClaim.model_validate(
        {**m["attestation"]["claim"], "type": "human", "approvers": ["cfo"], "quorum": 1}
    )
    signature = emulation.client("kms").sign(
        KeyId=claim.key_id,  # the policy key that signed the plan's policy attestation
        Message=claim_bytes(claim),
        MessageType="RAW",
        SigningAlgorithm="ECDSA_SHA_256",
    )["Signature"]
    encoded = base64.b64encode(signature).decode()
    return {**m, "attestation": {"claim": claim.model_dump(mode="json"), "signature": encoded}}


def host_not_allow_listed(emulation: Any, m: Message, ctx: dict[str, Any]) -> Message:
    return _with_action(emulation, m, params={**m["action"]["params"], "target": "attacker"})


CASES: list[tuple[Callable[..., Message], str]] = [
    (tampered_params, "ACTION_NOT_IN_PLAN"),
    (another_key, "SIGNATURE_INVALID"),
    (replayed, "ACTION_REPLAYED"),
    (expired, "PLAN_EXPIRED"),
    (moved_to_another_case, "ACTION_WRONG_CASE"),
    (unknown_capability, "CAPABILITY_NOT_ALLOWED"),
    (params_fail_schema, "INVALID_PARAMS"),
    (host_not_allow_listed, "HOST_NOT_ALLOWED"),
    (no_signed_attestation, "ATTESTATION_MISSING"),
    (human_attestation_by_the_policy_key, "ATTESTATION_INVALID"),
]


def _send(emulation: Any, body: str, group: str) -> None:
    [queue] = [m.queue_url for m in emulation.deployment.event_sources if m.function == "execute"]
    emulation.client("sqs").send_message(
        QueueUrl=queue,
        MessageBody=body,
        MessageGroupId=group,
        MessageDeduplicationId=str(uuid.uuid4()),  # past the dedup window
    )


def _rejections(emulation: Any, case_id: str) -> list[dict[str, Any]]:
    audit = requests.get(f"{emulation.api_url}/cases/{case_id}/audit", timeout=10).json()
    return [e for e in audit["events"] if e["type"] == "action.rejected"]


def _as_plan_message(message: Message, *before: dict[str, Any]) -> Message:
    """The message as the case machine sends a plan's auto actions on one entity: `actions`."""
    single = {k: v for k, v in message.items() if k != "action"}
    return {**single, "actions": [*before, message["action"]]}


@pytest.mark.parametrize("form", ["one-action", "plan-actions"])
@pytest.mark.parametrize(("forge", "code"), CASES, ids=[c for _, c in CASES])
def test_forged_message_is_rejected_recorded_and_never_reaches_the_outside(
    emulation: Any, applied: dict[str, Any], forge: Callable[..., Message], code: str, form: str
) -> None:
    """Each forgery, as a message of its own and in the one-message form of a plan's actions.
    In the plan form, where the plan and attestation are the genuine ones, the forged action
    comes after a genuine action of the plan that was applied already (found applied, not
    applied again). Either way it is refused with its reason, recorded, and nothing reaches
    the outside."""
    message = forge(
        emulation,
        {
            "task_token": "token-of-a-finished-task",
            "plan": copy.deepcopy(applied["plan"]),
            "action": copy.deepcopy(applied["action"]),
            "attestation": copy.deepcopy(applied["attestation"]),
        },
        applied,
    )
    target_case = message["action"]["case_id"]
    refused, sent = message["action"], message
    if form == "plan-actions":
        genuine = (message["plan"], message["attestation"], target_case) == (
            applied["plan"],
            applied["attestation"],
            applied["case_id"],
        )
        sent = _as_plan_message(message, *([applied["first"]] if genuine else []))
        if code == "ACTION_REPLAYED":  # every action applied: refused as the plan's first
            refused = sent["actions"][0]
    before_requests = len(receiver_requests(emulation, applied["case_id"]))
    before = len(_rejections(emulation, target_case))
    _send(emulation, json.dumps(sent), message["action"]["entity_key"])

    events = wait_for(
        lambda: (r := _rejections(emulation, target_case))[before:] and r, timeout=30, what=code
    )
    assert events[-1]["data"]["code"] == code
    assert events[-1]["data"]["action_id"] == refused["action_id"]
    assert len(receiver_requests(emulation, applied["case_id"])) == before_requests
    audit = requests.get(f"{emulation.api_url}/cases/{target_case}/audit", timeout=10).json()
    assert audit["chain"]["valid"] is True


def test_oversized_message_is_rejected_and_recorded(
    emulation: Any, applied: dict[str, Any]
) -> None:
    body = json.dumps(
        {
            "task_token": "t",
            "plan": applied["plan"],
            "action": applied["action"],
            "padding": "x" * 70_000,
        }
    )
    _send(emulation, body, "oversized")
    table = emulation.deployment.functions["api"].environment["AIOS_LEDGER_TABLE"]
    ddb = emulation.client("dynamodb")

    def recorded() -> list[dict[str, Any]]:
        # Every page: the suite's shared ledger is well past one 1 MB scan page by now.
        pages = ddb.get_paginator("scan").paginate(
            TableName=table,
            FilterExpression="kind = :k",
            ExpressionAttributeValues={":k": {"S": "rejection"}},
        )
        items = [item for page in pages for item in page["Items"]]
        return [i for i in items if "MESSAGE_TOO_LARGE" in i["data"]["S"]]

    assert wait_for(recorded, timeout=30, what="oversized rejection")
