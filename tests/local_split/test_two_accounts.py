"""Issue 15's local proof: the split layout in two emulated accounts, proven across the boundary.

The decision plane runs in account 111111111111, the execution plane in 222222222222; every
function acts as its own role (credentials assumed through STS), so its calls land in its own
account's moto backends (`local.split`). What moto enforces here is account isolation: a
request is served from its caller's account only. It does not evaluate IAM policies or
resource policies on these calls; the roles' least privilege is proven on the synthesized
templates (tests/infra/test_split.py).
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
from typing import Any

import pytest
import requests
from aios.signing import canonical_json
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from local.split import DECISION_ACCOUNT, EXECUTION_ACCOUNT, role_session
from tests.local.conftest import wait_for
from tests.local.test_end_to_end import example, finished_case, receiver_requests, submit

pytestmark = pytest.mark.slow

Message = dict[str, Any]
DECISION_ROLES = ("decide", "api", "approvals")
MISSING_QUEUE = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}


def _state_table(emu: Any) -> str:
    return str(emu.execution.functions["execute"].environment["AIOS_LEDGER_TABLE"])


def _action_queue(emu: Any) -> str:
    [url] = [m.queue_url for m in emu.execution.event_sources if m.function == "execute"]
    return str(url)


def _acting_as(emu: Any, role_arn: str) -> Any:
    """A session with the credentials the role's function runs with."""
    return role_session(emu.client("sts"), role_arn, emu.region, f"test-{uuid.uuid4().hex[:8]}")


def _item(client: Any, table: str, pk: str, sk: str) -> dict[str, Any] | None:
    item = client.get_item(
        TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
    ).get("Item")
    return {k: TypeDeserializer().deserialize(v) for k, v in item.items()} if item else None


def _ledger_data(emu: Any, case_id: str, sk_prefix: str) -> dict[str, Any]:
    """The data of the decision ledger's first item of the case under `sk_prefix`."""
    table = emu.deployment.functions["api"].environment["AIOS_LEDGER_TABLE"]
    items = emu.client("dynamodb").query(
        TableName=table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :sk)",
        ExpressionAttributeValues={":pk": {"S": f"CASE#{case_id}"}, ":sk": {"S": sk_prefix}},
    )["Items"]
    return dict(json.loads(TypeDeserializer().deserialize(items[0]["data"])))


def _genuine(emu: Any, case_id: str) -> Message:
    """The message the case machine sent for the case's first action, rebuilt from the
    decision ledger (with the task token of a task that no longer waits)."""
    message: Message = {
        "task_token": "token-of-a-finished-task",
        "plan": _ledger_data(emu, case_id, "PLAN#")["signed"],
        "action": _ledger_data(emu, case_id, "ACTION#001")["planned"],
    }
    return message


def _sign(kms: Any, key_id: str, payload: Any) -> str:
    signature = kms.sign(
        KeyId=key_id,
        Message=canonical_json(payload),
        MessageType="RAW",
        SigningAlgorithm="ECDSA_SHA_256",
    )["Signature"]
    return base64.b64encode(signature).decode()


def _execution_key(emu: Any) -> str:
    """A signing key of the execution account: anyone there can make one."""
    kms = emu.client("kms", EXECUTION_ACCOUNT)
    return str(
        kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    )


def _send(emu: Any, message: Message) -> str:
    """Put `message` on the action queue as a writer of the execution account would."""
    return str(
        emu.client("sqs", EXECUTION_ACCOUNT).send_message(
            QueueUrl=_action_queue(emu),
            MessageBody=json.dumps(message),
            MessageGroupId=message["action"]["entity_key"],
            MessageDeduplicationId=str(uuid.uuid4()),
        )["MessageId"]
    )


def _rejection(emu: Any, message_id: str) -> dict[str, Any]:
    """The execution account's record of the refused message, once it is there."""
    ddb = emu.client("dynamodb", EXECUTION_ACCOUNT)
    table = _state_table(emu)
    record = wait_for(
        lambda: _item(ddb, table, f"REJECTION#{message_id}", "REJECTION"),
        timeout=60,
        what=f"the rejection of message {message_id}",
    )
    return dict(json.loads(record["data"]))


@pytest.fixture(scope="module")
def case(split_emulation: Any) -> dict[str, Any]:
    """A ticket-triage case submitted to the decision account's API, run to its end."""
    api = split_emulation.api_url
    process, body = example(api)
    body["ticket_id"] = "T-8101"
    response = submit(api, process, body, f"split-{uuid.uuid4()}")
    assert response.status_code == 202, response.text
    return finished_case(api, response.json()["case_id"], timeout=120)


def test_each_plane_runs_in_its_own_account_as_its_own_role(split_emulation: Any) -> None:
    emu = split_emulation
    assert emu.deployment.account == DECISION_ACCOUNT
    assert emu.execution.account == EXECUTION_ACCOUNT
    # the execution plane, and the audit anchor over its own state table (its rejections)
    assert set(emu.execution.functions) == {"execute", "audit_checkpoint"}
    assert "execute" not in emu.deployment.functions
    planes = [(DECISION_ACCOUNT, emu.deployment), (EXECUTION_ACCOUNT, emu.execution)]
    for account, spec in [(a, s) for a, plane in planes for s in plane.functions.values()]:
        who = (
            _acting_as(emu, spec.role_arn)
            .client("sts", endpoint_url=emu.aws_endpoint)
            .get_caller_identity()
        )
        assert who["Account"] == account, spec.name
        assert f":assumed-role/{spec.role_arn.rsplit('/', 1)[-1]}/" in who["Arn"], spec.name
        assert spec.role_arn.split(":")[4] == account
    # The functions run with exactly such credentials (the environment Lambda would give).
    env = emu.runtime.environment_for(emu.runtime.functions["execute"])
    sts = emu.session.client(
        "sts",
        endpoint_url=emu.aws_endpoint,
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env["AWS_SESSION_TOKEN"],
    )
    assert sts.get_caller_identity()["Account"] == EXECUTION_ACCOUNT


@pytest.mark.parametrize("function", DECISION_ROLES)
def test_the_decision_accounts_roles_cannot_write_the_execution_accounts_state(
    split_emulation: Any, function: str
) -> None:
    emu = split_emulation
    role = emu.deployment.functions[function].role_arn
    session = _acting_as(emu, role)
    table, queue = _state_table(emu), _action_queue(emu)
    key = {"pk": {"S": f"ENTITY#probe-{function}"}, "sk": {"S": "STATE"}}

    with pytest.raises(ClientError) as put:
        session.client("dynamodb", endpoint_url=emu.aws_endpoint).put_item(
            TableName=table, Item={**key, "data": {"S": "{}"}}
        )
    assert put.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as sent:
        session.client("sqs", endpoint_url=emu.aws_endpoint).send_message(
            QueueUrl=queue,
            MessageBody="{}",
            MessageGroupId="probe",
            MessageDeduplicationId=str(uuid.uuid4()),
        )
    assert sent.value.response["Error"]["Code"] in MISSING_QUEUE

    # The execution account's own role reaches both: the refusals are the boundary, not a typo.
    execute = _acting_as(emu, emu.execution.functions["execute"].role_arn)
    execute.client("dynamodb", endpoint_url=emu.aws_endpoint).describe_table(TableName=table)
    execute.client("sqs", endpoint_url=emu.aws_endpoint).get_queue_attributes(QueueUrl=queue)
    ddb = emu.client("dynamodb", EXECUTION_ACCOUNT)
    assert _item(ddb, table, key["pk"]["S"], "STATE") is None


def _another_key(emu: Any, message: Message) -> Message:
    """Signed by a key of the execution account, which names itself as the signer."""
    envelope = message["plan"]["envelope"]
    envelope["key_id"] = _execution_key(emu)
    message["plan"]["signature"] = _sign(
        emu.client("kms", EXECUTION_ACCOUNT), envelope["key_id"], envelope
    )
    return message


def _forged_signature(emu: Any, message: Message) -> Message:
    """Claims the decision plane's plan key, signed by a key of the execution account."""
    envelope = message["plan"]["envelope"]
    message["plan"]["signature"] = _sign(
        emu.client("kms", EXECUTION_ACCOUNT), _execution_key(emu), envelope
    )
    return message


@pytest.mark.parametrize("forge", [_another_key, _forged_signature], ids=["key", "signature"])
def test_a_message_not_signed_by_the_decision_plans_key_is_refused_and_recorded(
    split_emulation: Any, case: dict[str, Any], forge: Any
) -> None:
    emu = split_emulation
    genuine = _genuine(emu, case["case_id"])
    assert genuine["plan"]["envelope"]["key_id"].split(":")[4] == DECISION_ACCOUNT
    before = len(receiver_requests(emu, case["case_id"]))
    message = forge(emu, copy.deepcopy(genuine))

    rejection = _rejection(emu, _send(emu, message))
    assert rejection["reason"]["code"] == "SIGNATURE_INVALID"
    assert rejection["reason"]["message"]
    assert json.loads(rejection["body"])["plan"] == message["plan"]
    assert len(receiver_requests(emu, case["case_id"])) == before


def test_an_action_signed_by_the_decision_account_runs_in_the_execution_account(
    split_emulation: Any, case: dict[str, Any]
) -> None:
    emu = split_emulation
    case_id = case["case_id"]
    assert case["status"] == "SUCCEEDED", case.get("error")
    [sent] = receiver_requests(emu, case_id)  # the outside system, called by account B
    action = _genuine(emu, case_id)["action"]
    assert sent["idempotency_key"] == action["action_id"]
    applied = _item(
        emu.client("dynamodb", EXECUTION_ACCOUNT),
        _state_table(emu),
        f"APPLIED#{action['action_id']}",
        "APPLIED",
    )
    assert applied is not None
    # Its outcome reached the decision account's case, on a chain that verifies.
    audit = requests.get(f"{emu.api_url}/cases/{case_id}/audit", timeout=10).json()
    assert audit["chain"]["valid"] is True
    assert [e for e in audit["events"] if e["type"] == "action.applied"]


def _attestation_by(emu: Any, message: Message, kms: Any, key_id: str) -> Message:
    attestation = message["attestation"]
    attestation["claim"]["key_id"] = key_id
    attestation["signature"] = _sign(kms, key_id, attestation["claim"])
    return message


@pytest.mark.parametrize("signer", ["plan-key", "execution-account-key"])
def test_an_attestation_not_signed_by_an_approvals_or_policy_key_is_refused_and_recorded(
    split_emulation: Any, case: dict[str, Any], signer: str
) -> None:
    emu = split_emulation
    genuine = _genuine(emu, case["case_id"])
    action = _ledger_data(emu, case["case_id"], "ACTION#001")
    genuine["attestation"] = action["attestation"]["signed"]
    genuine["input"] = case["input"]
    if signer == "plan-key":  # the decision plane's plan key may sign plans, never attestations
        message = _attestation_by(
            emu, copy.deepcopy(genuine), emu.client("kms"), genuine["plan"]["envelope"]["key_id"]
        )
    else:
        message = _attestation_by(
            emu, copy.deepcopy(genuine), emu.client("kms", EXECUTION_ACCOUNT), _execution_key(emu)
        )
    before = len(receiver_requests(emu, case["case_id"]))

    rejection = _rejection(emu, _send(emu, message))
    assert rejection["reason"]["code"] == "ATTESTATION_INVALID"
    assert len(receiver_requests(emu, case["case_id"])) == before
