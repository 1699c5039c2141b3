"""Canonical encoding, digests, and plan signatures.

Canonical JSON is RFC 8785 (JSON Canonicalization Scheme): object keys sorted by UTF-16 code
units, no insignificant whitespace, numbers in ECMAScript shortest form, strings in minimal
escaping of UTF-8. Two parties that agree on a value therefore agree on its bytes, so a digest
or signature over those bytes means the same thing on both sides.

A plan is signed once: the envelope names the plan and the ordered digests of its actions, and
KMS signs the envelope's canonical bytes (`MessageType=RAW`: KMS hashes them with SHA-256, then
signs with ECDSA P-256). RAW rather than a local pre-hash keeps the signed message meaningful
on its own and behaves the same in AWS and in the emulator; an envelope stays far below KMS's
4096-byte RAW limit because a plan holds at most 20 actions, and a larger one is refused. The execution plane
verifies with the public key, fetched once per key id and cached, so verification costs no KMS
call per action and a rotated key id is picked up on first sight.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import rfc8785
from pydantic import BaseModel, ConfigDict, Field

from aios.errors import InvalidInput, SignatureInvalid
from aios.keyring import Keyring

ALGORITHM = "ECDSA_SHA_256"
ENVELOPE_VERSION = 2
"""Version 1 named the case, plan, process, tenant, action digests, times and key. Version 2
also binds what the execution plane needs to re-check a plan on its own: the process spec it
was made under (`spec`: name, version, SHA-256 of the canonical spec), the digest of the case
input (`input_digest`, for bounds on the input) and the classification's `confidence` (for
approval rules on it). Fields that are None are left out of the signed bytes, so a version 1
envelope still verifies; the execution plane refuses it as unsupported."""


def canonical_json(value: Any) -> bytes:
    """RFC 8785 bytes of a JSON value; raises InvalidInput for values JSON cannot hold."""
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise InvalidInput(f"value cannot be canonicalized: {exc}") from exc


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digest(value: Any) -> str:
    """SHA-256 (hex) of the canonical encoding of a JSON value."""
    return sha256_hex(canonical_json(value))


class SpecRef(BaseModel):
    """Which policy allowed this: a process spec by name, version and content hash (the
    SHA-256 of its canonical JSON), as recorded in plans, attestations and audit events."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class PlanEnvelope(BaseModel):
    """What a plan signature covers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = ENVELOPE_VERSION
    case_id: str
    plan_id: str
    process: str
    tenant: str
    action_digests: list[str]
    issued_at: str
    expires_at: str
    key_id: str
    algorithm: str = ALGORITHM
    spec: SpecRef | None = None
    input_digest: str | None = None
    confidence: float | None = Field(default=None, ge=0, le=1)

    @property
    def complete(self) -> bool:
        """Whether it carries everything the execution plane re-checks (version 2)."""
        return (
            self.version == ENVELOPE_VERSION
            and self.spec is not None
            and self.input_digest is not None
        )

    def expired(self, now: datetime) -> bool:
        return now >= datetime.fromisoformat(self.expires_at)


class SignedPlan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    envelope: PlanEnvelope
    signature: str = Field(
        description="base64 DER ECDSA signature over sha256(canonical(envelope))"
    )


class KmsClient(Protocol):
    def sign(self, **kwargs: Any) -> dict[str, Any]: ...

    def get_public_key(self, **kwargs: Any) -> dict[str, Any]: ...


def new_envelope(
    *,
    case_id: str,
    plan_id: str,
    process: str,
    tenant: str,
    action_digests: list[str],
    key_id: str,
    ttl_seconds: int,
    now: datetime | None = None,
    spec: SpecRef | None = None,
    input_digest: str | None = None,
    confidence: float | None = None,
) -> PlanEnvelope:
    issued = (now or datetime.now(UTC)).replace(microsecond=0)
    return PlanEnvelope(
        case_id=case_id,
        plan_id=plan_id,
        process=process,
        tenant=tenant,
        action_digests=action_digests,
        issued_at=issued.isoformat(),
        expires_at=(issued + timedelta(seconds=ttl_seconds)).isoformat(),
        key_id=key_id,
        spec=spec,
        input_digest=input_digest,
        confidence=confidence,
    )


MAX_SIGNED_BYTES = 4096


def envelope_bytes(envelope: PlanEnvelope) -> bytes:
    """The exact bytes a plan signature covers (fields that are None left out)."""
    return canonical_json(envelope.model_dump(mode="json", exclude_none=True))


def sign_plan(kms: KmsClient, envelope: PlanEnvelope) -> SignedPlan:
    """Sign the envelope with its KMS key: one KMS call per plan, whatever its length."""
    message = envelope_bytes(envelope)
    if len(message) > MAX_SIGNED_BYTES:
        raise InvalidInput(f"plan envelope is {len(message)} bytes; at most {MAX_SIGNED_BYTES}")
    response = kms.sign(
        KeyId=envelope.key_id, Message=message, MessageType="RAW", SigningAlgorithm=ALGORITHM
    )
    signature = base64.b64encode(response["Signature"]).decode("ascii")
    return SignedPlan(envelope=envelope, signature=signature)


class PublicKeyCache:
    """Public keys by key id, fetched from KMS on first use and kept for the cold start."""

    def __init__(self, fetch: Callable[[str], bytes]) -> None:
        self._fetch = fetch
        self._keys: dict[str, Any] = {}
        self.fetches = 0

    @classmethod
    def from_kms(cls, kms: KmsClient) -> PublicKeyCache:
        return cls(lambda key_id: bytes(kms.get_public_key(KeyId=key_id)["PublicKey"]))

    @classmethod
    def from_pinned(cls, keys: dict[str, str]) -> PublicKeyCache:
        """Public keys pinned in configuration (key id -> base64 DER SubjectPublicKeyInfo):
        no KMS call at all, so an execution plane in another account needs no access to the
        decision account's key. A key id not pinned is unknown (SignatureInvalid)."""
        pinned = dict(keys)

        def fetch(key_id: str) -> bytes:
            if key_id not in pinned:
                raise SignatureInvalid(f"no public key is pinned for {key_id!r}")
            return base64.b64decode(pinned[key_id], validate=True)

        return cls(fetch)

    def get(self, key_id: str) -> Any:
        if key_id not in self._keys:
            from cryptography.hazmat.primitives.serialization import load_der_public_key

            self._keys[key_id] = load_der_public_key(self._fetch(key_id))
            self.fetches += 1
        return self._keys[key_id]


def verify_plan(signed: SignedPlan, keys: PublicKeyCache, trusted_key_ids: set[str]) -> None:
    """Raise SignatureInvalid unless a trusted key signed exactly this envelope."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    envelope = signed.envelope
    if envelope.key_id not in trusted_key_ids:
        raise SignatureInvalid(f"plan signed with untrusted key {envelope.key_id!r}")
    if envelope.algorithm != ALGORITHM:
        raise SignatureInvalid(f"unsupported signing algorithm {envelope.algorithm!r}")
    try:
        signature = base64.b64decode(signed.signature, validate=True)
    except ValueError as exc:
        raise SignatureInvalid("signature is not base64") from exc
    key = keys.get(envelope.key_id)
    try:
        key.verify(signature, envelope_bytes(envelope), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise SignatureInvalid("plan signature does not verify") from exc


def verify_plan_signature(
    signed: SignedPlan, keyring: Keyring, *, now: datetime | None = None
) -> None:
    """Raise SignatureInvalid unless a key trusted for plans signed exactly this envelope, and
    KeyRetired when that key is past its cut-off (`aios.keyring`)."""
    envelope = signed.envelope
    keyring.verify(
        "plan",
        envelope.key_id,
        envelope_bytes(envelope),
        signed.signature,
        now=now,
        algorithm=envelope.algorithm,
    )
