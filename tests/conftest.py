"""Shared fixtures. The `aios` layer goes on the path the way Lambda puts it (/opt/python);
unit and reliability tests run the domain library against moto in-process."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from hypothesis import settings
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "aios" / "python"))
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")

REGION = "us-east-1"

# Timeouts in tests are hang guards, not speed checks (speed lives in bench/). On a loaded 2-core
# machine the emulation serves one function at a time, so a GET can wait well past 10 s behind
# other invocations: every HTTP read a test makes gets at least this long, every `wait_for`
# deadline at least HANG_GUARD_S (tests/local/conftest.py). Figures and ratios stay in bench/.
HTTP_TIMEOUT_FLOOR_S = 120.0
HANG_GUARD_S = 180.0


def _with_floor(timeout: Any) -> Any:
    if timeout is None:
        return None
    if isinstance(timeout, tuple):
        return tuple(_with_floor(t) for t in timeout)
    return max(float(timeout), HTTP_TIMEOUT_FLOOR_S)


def _floor_request_timeouts() -> None:
    from requests.adapters import HTTPAdapter

    send = HTTPAdapter.send
    if getattr(send, "_aios_floor", False):
        return

    def send_with_floor(self: HTTPAdapter, request: Any, *args: Any, **kwargs: Any) -> Any:
        if "timeout" in kwargs:
            kwargs["timeout"] = _with_floor(kwargs["timeout"])
        return send(self, request, *args, **kwargs)

    send_with_floor._aios_floor = True  # type: ignore[attr-defined]
    HTTPAdapter.send = send_with_floor  # type: ignore[method-assign]


_floor_request_timeouts()

# Properties, not timings: Hypothesis' default 200 ms per example fails a test (as "flaky") when a
# loaded machine is slow once, so the examples here have no deadline.
settings.register_profile("aios", deadline=None)
settings.load_profile("aios")


@pytest.fixture
def aws() -> Iterator[None]:
    env = {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    old = {k: os.environ.get(k) for k in [*env, "AWS_ENDPOINT_URL"]}
    os.environ.update(env)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    from aios import aws as aios_aws
    from aios.ledger import repository
    from aws_lambda_powertools.utilities.parameters import base as parameters

    parameters.DEFAULT_PROVIDERS.clear()  # clients cached by earlier tests point elsewhere

    aios_aws.client.cache_clear()
    repository._connection = None
    with mock_aws():
        yield
    aios_aws.client.cache_clear()
    repository._connection = None
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def ledger(aws: None) -> str:
    from aios.ledger import LedgerItem, bind_ledger

    ddb = boto3.client("dynamodb")
    ddb.create_table(
        TableName="idempotency",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )
    # As stacks/ledger.py creates it: pk/sk, the sparse operator-queue index, the sparse
    # index of case items by process and the sparse index of audit heads by hour.
    ddb.create_table(
        TableName="ledger",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": k, "AttributeType": "S"}
            for k in ("pk", "sk", "queue", "queued_at", "process", "created_at", "audit_period")
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "Queues",
                "KeySchema": [
                    {"AttributeName": "queue", "KeyType": "HASH"},
                    {"AttributeName": "queued_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
            {
                "IndexName": "ByProcess",
                "KeySchema": [
                    {"AttributeName": "process", "KeyType": "HASH"},
                    {"AttributeName": "created_at", "KeyType": "RANGE"},
                ],
                "Projection": {
                    "ProjectionType": "INCLUDE",
                    "NonKeyAttributes": ["status", "updated_at"],
                },
            },
            {
                "IndexName": "AuditPeriods",
                "KeySchema": [
                    {"AttributeName": "audit_period", "KeyType": "HASH"},
                    {"AttributeName": "pk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
    )
    bind_ledger("ledger")
    LedgerItem._connection = None
    return "ledger"


@pytest.fixture
def decision_table(aws: None) -> str:
    """The decision store (model-output cache and budgets) as the stack creates it."""
    from aios.ledger import DecisionItem, bind_decision_store

    boto3.client("dynamodb").create_table(
        TableName="decisions",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "item_key", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "item_key", "KeyType": "HASH"}],
    )
    bind_decision_store("decisions")
    DecisionItem._connection = None
    return "decisions"


@pytest.fixture
def plan_key(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """The plan key; its siblings, the policy and human attestation keys, are made beside it
    and named in the environment as the stack names them (AIOS_POLICY_KEY_ID,
    AIOS_HUMAN_KEY_ID), so Decide, approvals and operators sign attestations with them."""
    kms = boto3.client("kms")

    def new_key() -> str:
        key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
        return str(key["KeyMetadata"]["Arn"])

    monkeypatch.setenv("AIOS_POLICY_KEY_ID", new_key())
    monkeypatch.setenv("AIOS_HUMAN_KEY_ID", new_key())
    return new_key()


def keyring_of(kms: Any, plan_key: str) -> Any:
    """The one-stack keyring of `plan_key` and the attestation keys its fixture named."""
    from aios.keyring import Keyring, TrustedKey, TrustedKeys, kms_fetch

    trusted = TrustedKeys(
        plan=(TrustedKey(key_id=plan_key),),
        policy=(TrustedKey(key_id=os.environ["AIOS_POLICY_KEY_ID"]),),
        human=(TrustedKey(key_id=os.environ["AIOS_HUMAN_KEY_ID"]),),
    )
    return Keyring(trusted, kms_fetch(kms))


@pytest.fixture
def kms(aws: None) -> Any:
    return boto3.client("kms")
