from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from aios.errors import SignatureInvalid
from aios.signing import (
    PublicKeyCache,
    SignedPlan,
    canonical_json,
    digest,
    new_envelope,
    sign_plan,
    verify_plan,
)
from hypothesis import given
from hypothesis import strategies as st

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), json_values, max_size=6))
def test_canonical_encoding_ignores_key_order(value: dict) -> None:
    reordered = dict(reversed(list(value.items())))
    assert canonical_json(reordered) == canonical_json(value)


@given(json_values)
def test_canonical_encoding_round_trips(value: object) -> None:
    assert json.loads(canonical_json(value)) == value


def test_canonical_encoding_follows_rfc8785_numbers_and_unicode() -> None:
    assert (
        canonical_json({"b": 1.0, "a": 1e21, "é": "\u2028"})
        == '{"a":1e+21,"b":1,"é":"\u2028"}'.encode()
    )


def test_digest_changes_with_any_change_of_value() -> None:
    assert digest({"amount": 10}) != digest({"amount": 11})


def _signed(kms, key: str, **overrides) -> SignedPlan:
    envelope = new_envelope(
        case_id="c-1",
        plan_id="c-1.p1",
        process="ticket-triage",
        tenant="t",
        action_digests=[digest({"a": 1})],
        key_id=key,
        ttl_seconds=600,
        **overrides,
    )
    return sign_plan(kms, envelope)


def test_signed_plan_verifies_with_the_public_key(kms, plan_key) -> None:
    signed = _signed(kms, plan_key)
    verify_plan(signed, PublicKeyCache.from_kms(kms), {plan_key})


def test_public_key_is_fetched_once_per_key_id(kms, plan_key) -> None:
    keys = PublicKeyCache.from_kms(kms)
    for _ in range(5):
        verify_plan(_signed(kms, plan_key), keys, {plan_key})
    assert keys.fetches == 1


@pytest.mark.parametrize("field", ["case_id", "plan_id", "process", "tenant", "expires_at"])
def test_any_edit_of_the_envelope_breaks_the_signature(kms, plan_key, field: str) -> None:
    signed = _signed(kms, plan_key)
    forged = signed.envelope.model_copy(update={field: signed.envelope.model_dump()[field] + "x"})
    with pytest.raises(SignatureInvalid):
        verify_plan(
            SignedPlan(envelope=forged, signature=signed.signature),
            PublicKeyCache.from_kms(kms),
            {plan_key},
        )


def test_added_action_digest_breaks_the_signature(kms, plan_key) -> None:
    signed = _signed(kms, plan_key)
    forged = signed.envelope.model_copy(
        update={"action_digests": [*signed.envelope.action_digests, digest({"evil": True})]}
    )
    with pytest.raises(SignatureInvalid):
        verify_plan(
            SignedPlan(envelope=forged, signature=signed.signature),
            PublicKeyCache.from_kms(kms),
            {plan_key},
        )


def test_a_plan_signed_by_another_key_is_refused(kms, plan_key) -> None:
    other = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    signed = _signed(kms, other)
    with pytest.raises(SignatureInvalid, match="untrusted key"):
        verify_plan(signed, PublicKeyCache.from_kms(kms), {plan_key})


def test_garbage_signature_is_refused(kms, plan_key) -> None:
    signed = _signed(kms, plan_key)
    bad = SignedPlan(
        envelope=signed.envelope,
        signature=base64.b64encode(b"\x30\x06\x02\x01\x01\x02\x01\x01").decode(),
    )
    with pytest.raises(SignatureInvalid):
        verify_plan(bad, PublicKeyCache.from_kms(kms), {plan_key})
    with pytest.raises(SignatureInvalid, match="base64"):
        verify_plan(
            SignedPlan(envelope=signed.envelope, signature="!!"),
            PublicKeyCache.from_kms(kms),
            {plan_key},
        )


def test_envelope_knows_when_it_expired() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    env = new_envelope(
        case_id="c",
        plan_id="p",
        process="x",
        tenant="t",
        action_digests=[],
        key_id="k",
        ttl_seconds=60,
        now=now,
    )
    assert not env.expired(now + timedelta(seconds=59))
    assert env.expired(now + timedelta(seconds=60))


def test_integers_beyond_ieee754_precision_are_refused_not_rounded() -> None:
    from aios.errors import InvalidInput

    with pytest.raises(InvalidInput):
        canonical_json({"n": 2**53})
