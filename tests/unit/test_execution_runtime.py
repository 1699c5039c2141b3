"""How a runner of the execution plane is wired (aios.execution.runtime): pinned plan keys verify
with no KMS call, the plan key is fetched once otherwise, and task answers go through the task
answer role when one is named."""

from __future__ import annotations

import base64
from typing import Any

import boto3
import pytest
from aios import aws as aios_aws
from aios import tasks
from aios.errors import SignatureInvalid
from aios.execution.runtime import execution_context
from aios.settings import load_settings
from aios.signing import (
    SignedPlan,
    envelope_bytes,
    new_envelope,
    sign_plan,
    verify_plan_signature,
)
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

KEY_ARN = "arn:aws:kms:us-east-1:111111111111:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


def _run_once(key: str, digest: str, call: Any) -> Any:
    return call()


def _pinned() -> tuple[ec.EllipticCurvePrivateKey, str]:
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(der).decode()


def _signed(private: ec.EllipticCurvePrivateKey, key_id: str) -> SignedPlan:
    envelope = new_envelope(
        case_id="c-1",
        plan_id="c-1.p1",
        process="ticket-triage",
        tenant="acme",
        action_digests=["0" * 64],
        key_id=key_id,
        ttl_seconds=600,
    )
    signature = private.sign(envelope_bytes(envelope), ec.ECDSA(hashes.SHA256()))
    return SignedPlan(envelope=envelope, signature=base64.b64encode(signature).decode())


def test_pinned_plan_keys_verify_with_no_kms_call(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_aws(service: str) -> Any:
        raise AssertionError(f"the execution plane called {service}")

    monkeypatch.setattr(aios_aws, "client", no_aws)
    private, public = _pinned()
    settings = load_settings({"AIOS_PLAN_PUBLIC_KEYS": f'{{"{KEY_ARN}": "{public}"}}'})
    ctx = execution_context(settings, _run_once)
    assert ctx.keyring.key_ids("plan") == frozenset({KEY_ARN})
    verify_plan_signature(_signed(private, KEY_ARN), ctx.keyring)
    other = KEY_ARN.replace("0f1e", "ffff")
    with pytest.raises(SignatureInvalid, match="not trusted"):
        verify_plan_signature(_signed(private, other), ctx.keyring)
    impostor, _ = _pinned()  # the right key id, signed by another key
    with pytest.raises(SignatureInvalid):
        verify_plan_signature(_signed(impostor, KEY_ARN), ctx.keyring)


def test_pinned_keys_hold_only_what_is_pinned() -> None:
    _, public = _pinned()
    ctx = execution_context(
        load_settings({"AIOS_PLAN_PUBLIC_KEYS": f'{{"{KEY_ARN}": "{public}"}}'}), _run_once
    )
    assert ctx.keyring.key_ids("plan") == frozenset({KEY_ARN})
    assert ctx.keyring.key_ids("policy") == ctx.keyring.key_ids("human") == frozenset()


def test_without_pinned_keys_the_plan_key_is_fetched_once_from_kms(aws: None) -> None:
    kms = boto3.client("kms")
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    ctx = execution_context(load_settings({"AIOS_PLAN_KEY_ID": key}), _run_once)
    signed = sign_plan(
        kms,
        new_envelope(
            case_id="c-1",
            plan_id="c-1.p1",
            process="p",
            tenant="t",
            action_digests=[],
            key_id=key,
            ttl_seconds=600,
        ),
    )
    for _ in range(3):
        verify_plan_signature(signed, ctx.keyring)
    assert ctx.keyring.fetches == 1


def test_task_answers_go_through_the_named_role_in_its_region(aws: None) -> None:
    role = boto3.client("iam").create_role(
        RoleName="AiosKit-task-answers", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    settings = load_settings(
        {"AIOS_TASK_ANSWER_ROLE_ARN": role, "AIOS_TASK_ANSWER_REGION": "eu-west-1"}
    )
    try:
        execution_context(settings, _run_once)
        client = tasks._client()
        assert client.meta.region_name == "eu-west-1"
        assert tasks._client() is client  # assumed once, kept until near expiry
        assert client is not aios_aws.client("stepfunctions")
        tasks.answer_through("", "")
        assert tasks._client() is aios_aws.client("stepfunctions")
    finally:
        tasks.answer_through("", "")


def test_with_no_key_at_all_every_plan_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """An execution stack deployed before its plan key was pinned fails closed."""
    private, _ = _pinned()
    settings = load_settings({"AIOS_PLAN_PUBLIC_KEYS": "{}", "AIOS_PLAN_KEY_ID": ""})
    ctx = execution_context(settings, _run_once)
    assert ctx.keyring.key_ids("plan") == frozenset()
    with pytest.raises(SignatureInvalid, match="not trusted"):
        verify_plan_signature(_signed(private, KEY_ARN), ctx.keyring)
