"""The signed attestation model and the keyring (aios.attestations, aios.keyring): per-purpose
keys, bindings, and rotation with cut-offs. Real ECDSA P-256 signatures, keys made here."""

from __future__ import annotations

import argparse
import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from aios.attestations import (
    AttestationClaim,
    SignedAttestation,
    claim_bytes,
    content_digest,
    sign_attestation,
    verify_attestation,
)
from aios.errors import AttestationInvalid, AttestationMissing, KeyRetired, SignatureInvalid
from aios.execution.runtime import trusted_keys
from aios.keyring import Keyring, TrustedKey, TrustedKeys
from aios.settings import load_settings
from aios.signing import (
    SignedPlan,
    SpecRef,
    digest,
    envelope_bytes,
    new_envelope,
    verify_plan_signature,
)
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from local import keys_cli

SPEC = SpecRef(name="refund-request", version="1", sha256="a" * 64)
OTHER_SPEC = SpecRef(name="refund-request", version="2", sha256="b" * 64)
DIGESTS = (digest({"a": 1}), digest({"a": 2}))
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class LocalKms:
    """KMS Sign as the service does it (RAW, ECDSA_SHA_256) with keys held here; counts calls."""

    def __init__(self) -> None:
        self.keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self.calls = 0

    def new(self, key_id: str) -> TrustedKey:
        self.keys[key_id] = ec.generate_private_key(ec.SECP256R1())
        der = (
            self.keys[key_id]
            .public_key()
            .public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        return TrustedKey(key_id=key_id, public_key=base64.b64encode(der).decode())

    def sign(self, **kwargs: Any) -> dict[str, Any]:
        assert kwargs["MessageType"] == "RAW" and kwargs["SigningAlgorithm"] == "ECDSA_SHA_256"
        self.calls += 1
        key = self.keys[kwargs["KeyId"]]
        return {"Signature": key.sign(kwargs["Message"], ec.ECDSA(hashes.SHA256()))}

    def get_public_key(self, **kwargs: Any) -> dict[str, Any]:
        raise AssertionError("no public key is fetched from KMS here")


@pytest.fixture
def kms() -> LocalKms:
    return LocalKms()


@pytest.fixture
def ring(kms: LocalKms) -> Keyring:
    return Keyring(
        TrustedKeys(
            plan=(kms.new("plan-key"),),
            policy=(kms.new("policy-key"),),
            human=(kms.new("human-key"),),
        )
    )


def _envelope(plan_id: str = "c-1.p1", spec: SpecRef = SPEC, key_id: str = "plan-key") -> Any:
    return new_envelope(
        case_id="c-1",
        plan_id=plan_id,
        process="refund-request",
        tenant="t",
        action_digests=list(DIGESTS),
        key_id=key_id,
        ttl_seconds=600,
        now=NOW,
        spec=spec,
        input_digest=digest({}),
    )


def _claim(**changes: Any) -> AttestationClaim:
    fields: dict[str, Any] = {
        "type": "policy",
        "case_id": "c-1",
        "plan_id": "c-1.p1",
        "action_digests": DIGESTS,
        "spec": SPEC,
        "rule": "risk<=medium",
        "issued_at": NOW.isoformat(),
        "key_id": "policy-key",
    }
    return AttestationClaim(**{**fields, **changes})


def _verify(ring: Keyring, signed: SignedAttestation | None, **changes: Any) -> AttestationClaim:
    args: dict[str, Any] = {
        "envelope": _envelope(),
        "action_digest": DIGESTS[0],
        "content": "",
        "now": NOW,
    }
    return verify_attestation(signed, ring, **{**args, **changes})


def test_one_policy_signature_covers_every_auto_action_of_the_plan(kms, ring) -> None:
    signed = sign_attestation(kms, _claim())
    assert kms.calls == 1
    for action_digest in DIGESTS:
        assert _verify(ring, signed, action_digest=action_digest).type == "policy"
    with pytest.raises(AttestationInvalid, match="digest"):
        _verify(ring, signed, action_digest=digest({"a": 3}))


def test_a_missing_attestation_is_refused(ring) -> None:
    with pytest.raises(AttestationMissing):
        _verify(ring, None)


def test_a_human_attestation_signed_with_the_policy_key_is_refused(kms, ring) -> None:
    human = _claim(type="human", approvers=("finance-lead",), quorum=1)
    with pytest.raises(AttestationInvalid, match="not trusted for human"):
        _verify(ring, sign_attestation(kms, human))  # key_id: policy-key


def test_the_plan_key_makes_no_attestation(kms, ring) -> None:
    for kind in ("policy", "human"):
        signed = sign_attestation(kms, _claim(type=kind, key_id="plan-key"))
        with pytest.raises(AttestationInvalid, match=f"not trusted for {kind}"):
            _verify(ring, signed)


def test_a_claim_changed_after_signing_does_not_verify(kms, ring) -> None:
    signed = sign_attestation(kms, _claim(type="human", key_id="human-key", approvers=("a",)))
    widened = signed.claim.model_copy(update={"approvers": ("a", "b")})
    with pytest.raises(AttestationInvalid, match="does not verify"):
        _verify(ring, SignedAttestation(claim=widened, signature=signed.signature))


def test_an_attestation_binds_its_case_plan_and_spec(kms, ring) -> None:
    signed = sign_attestation(kms, _claim())
    with pytest.raises(AttestationInvalid, match="case"):
        _verify(ring, sign_attestation(kms, _claim(case_id="c-2")))
    with pytest.raises(AttestationInvalid, match="digest"):
        _verify(ring, signed, envelope=_envelope(plan_id="c-1.p2"))
    with pytest.raises(AttestationInvalid, match="spec"):
        _verify(ring, signed, envelope=_envelope(spec=OTHER_SPEC))


def test_an_act_by_hand_binds_the_content_the_operator_checked(kms, ring) -> None:
    content = content_digest("http.post", {"path": "/refunds", "body": {"amount": 20}})
    by_hand = _claim(
        type="human",
        plan_id="",
        binds="content",
        action_digests=(content,),
        operator="ana",
        key_id="human-key",
    )
    signed = sign_attestation(kms, by_hand)
    assert _verify(ring, signed, content=content).operator == "ana"
    other = content_digest("http.post", {"path": "/refunds", "body": {"amount": 45}})
    with pytest.raises(AttestationInvalid, match="act-by-hand"):
        _verify(ring, signed, content=other)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=5, unique=True))
def test_any_approvers_round_trip_and_the_signed_bytes_are_canonical(approvers) -> None:
    local = LocalKms()
    trusted = TrustedKeys(human=(local.new("human-key"),))
    claim = _claim(type="human", key_id="human-key", approvers=tuple(approvers))
    signed = sign_attestation(local, claim)
    again = SignedAttestation.model_validate(json.loads(signed.model_dump_json()))
    assert claim_bytes(again.claim) == claim_bytes(claim)
    assert _verify(Keyring(trusted), again).approvers == tuple(approvers)


def _signed_plan(kms: LocalKms, key_id: str) -> SignedPlan:
    envelope = _envelope(key_id=key_id)
    raw = kms.sign(
        KeyId=key_id,
        Message=envelope_bytes(envelope),
        MessageType="RAW",
        SigningAlgorithm="ECDSA_SHA_256",
    )["Signature"]
    return SignedPlan(envelope=envelope, signature=base64.b64encode(raw).decode())


def test_rotation_the_retiring_plan_key_works_until_its_cut_off_and_is_refused_after(kms) -> None:
    cut_off = NOW + timedelta(days=7)
    old = kms.new("plan-old").model_copy(update={"not_after": cut_off})
    ring = Keyring(TrustedKeys(plan=(kms.new("plan-new"), old)))
    retiring, current = _signed_plan(kms, "plan-old"), _signed_plan(kms, "plan-new")
    verify_plan_signature(retiring, ring, now=cut_off - timedelta(seconds=1))
    with pytest.raises(KeyRetired) as refused:
        verify_plan_signature(retiring, ring, now=cut_off)
    assert refused.value.code == "KEY_RETIRED" and refused.value.details["key_id"] == "plan-old"
    verify_plan_signature(current, ring, now=cut_off + timedelta(days=365))
    kms.new("plan-unknown")
    with pytest.raises(SignatureInvalid, match="not trusted for plan"):
        verify_plan_signature(_signed_plan(kms, "plan-unknown"), ring, now=NOW)


def test_a_key_is_trusted_for_one_purpose_only(kms) -> None:
    key = kms.new("shared")
    with pytest.raises(ValidationError, match="each purpose needs its own key"):
        TrustedKeys(plan=(key,), policy=(key,))


def test_trusted_keys_come_from_the_environment_with_their_cut_offs(kms) -> None:
    pinned = {
        "plan": [
            kms.new("plan-new").model_dump(mode="json"),
            {**kms.new("plan-old").model_dump(mode="json"), "not_after": "2027-01-01T00:00:00Z"},
        ],
        "policy": [kms.new("policy-key").model_dump(mode="json")],
    }
    env = {"AIOS_TRUSTED_KEYS": json.dumps(pinned), "AIOS_PLAN_KEY_ID": "ignored"}
    trusted = trusted_keys(load_settings(env))
    assert [k.key_id for k in trusted.plan] == ["plan-new", "plan-old"]
    assert trusted.plan[1].not_after == datetime(2027, 1, 1, tzinfo=UTC)
    assert trusted.pinned and trusted.of("human") == ()
    with pytest.raises(RuntimeError, match="AIOS_TRUSTED_KEYS"):
        load_settings({"AIOS_TRUSTED_KEYS": '{"plan": [{"key_id": "k", "not_after": "soon"}]}'})


def test_keys_pins_prints_every_purposes_public_key_from_kms(aws: None) -> None:
    kms = boto3.client("kms")

    def key() -> str:
        made = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
        return str(made["KeyMetadata"]["Arn"])

    plan, old, policy, human = key(), key(), key(), key()
    args = argparse.Namespace(
        stack="",
        plan=[plan, old],
        policy=[policy],
        human=[human],
        not_after=[f"{old}=2027-01-01T00:00:00+00:00"],
    )
    pinned = keys_cli.pins_command(args, kms, None)
    assert [k["key_id"] for k in pinned["plan"]] == [plan, old]
    assert pinned["plan"][1]["not_after"] == "2027-01-01T00:00:00Z"
    public = base64.b64encode(kms.get_public_key(KeyId=policy)["PublicKey"]).decode()
    assert pinned["policy"] == [{"key_id": policy, "public_key": public}]
    assert TrustedKeys.model_validate(pinned).pinned
    args.not_after = ["arn:aws:kms:us-east-1:1:key/other=2027-01-01T00:00:00+00:00"]
    with pytest.raises(ValueError, match="not pinned"):
        keys_cli.pins_command(args, kms, None)


def test_one_stack_rotation_pins_plan_keys_and_keeps_the_named_attestation_keys(kms) -> None:
    pinned = {"plan": [kms.new("plan-new").model_dump(mode="json")]}
    env = {
        "AIOS_TRUSTED_KEYS": json.dumps(pinned),
        "AIOS_PLAN_KEY_ID": "plan-old-named",
        "AIOS_POLICY_KEY_ID": "policy-named",
        "AIOS_HUMAN_KEY_ID": "human-named",
    }
    trusted = trusted_keys(load_settings(env))
    assert [k.key_id for k in trusted.plan] == ["plan-new"]  # pinned wins for its purpose
    assert [k.key_id for k in trusted.policy] == ["policy-named"]
    assert [k.key_id for k in trusted.human] == ["human-named"]
    assert not trusted.pinned  # the named ones are fetched from KMS, once each
