"""The keys the execution plane trusts, by purpose, with cut-offs for rotation.

Three purposes, each with its own KMS key (ECC_NIST_P256, SIGN_VERIFY): `plan` (Decide signs
plans), `policy` (Decide signs one policy attestation per plan over its auto actions' digests)
and `human` (the approvals function signs an approval's attestation; the operator's move signs
an act-by-hand). A key id trusted for one purpose is never accepted for another, so a policy
key cannot make a human attestation and the plan key cannot make any attestation.

Each purpose may hold several keys at once, each with an optional cut-off (`not_after`): during
a rotation the old and the new key are both trusted, and the old one is refused (`KEY_RETIRED`,
recorded) from its cut-off on. Public keys are pinned (base64 DER SubjectPublicKeyInfo) or, in
one stack, fetched from KMS once per key id and process: either way a verification costs no
KMS call per action.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from aios.errors import ActionRejected, KeyRetired, SignatureInvalid

Purpose = Literal["plan", "policy", "human"]
PURPOSES: tuple[Purpose, ...] = ("plan", "policy", "human")
ALGORITHM = "ECDSA_SHA_256"


class TrustedKey(BaseModel):
    """One trusted key: its KMS key id (ARN), its public key and its cut-off."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key_id: str = Field(min_length=1, max_length=2048)
    public_key: str = Field(
        default="",
        description="base64 DER SubjectPublicKeyInfo; empty: fetched from KMS once (one stack)",
    )
    not_after: AwareDatetime | None = Field(
        default=None, description="signatures by this key are refused from this moment on"
    )


class TrustedKeys(BaseModel):
    """The `AIOS_TRUSTED_KEYS` structure (`-c trusted_keys`): purpose -> keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    plan: list[TrustedKey] = Field(default_factory=list)
    policy: list[TrustedKey] = Field(default_factory=list)
    human: list[TrustedKey] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_purpose_per_key(self) -> TrustedKeys:
        seen: dict[str, str] = {}
        for purpose in PURPOSES:
            for key in self.of(purpose):
                if seen.setdefault(key.key_id, purpose) != purpose:
                    raise ValueError(
                        f"key {key.key_id} is trusted for {seen[key.key_id]} and {purpose}: "
                        "each purpose needs its own key"
                    )
        return self

    def of(self, purpose: Purpose) -> tuple[TrustedKey, ...]:
        return tuple(getattr(self, purpose))

    @property
    def pinned(self) -> bool:
        """Whether every key carries its public key (no KMS access needed at all)."""
        return all(k.public_key for p in PURPOSES for k in self.of(p))


class Keyring:
    """Verifies signatures for a purpose with the keys trusted for it; public keys are loaded
    once per key id and kept (`fetches` counts the loads, never one per verification)."""

    def __init__(self, trusted: TrustedKeys, fetch: Callable[[str], bytes] | None = None) -> None:
        self.trusted = trusted
        self._fetch = fetch
        self._keys: dict[str, Any] = {}
        self.fetches = 0

    def key_ids(self, purpose: Purpose) -> frozenset[str]:
        return frozenset(k.key_id for k in self.trusted.of(purpose))

    def _public_key(self, key: TrustedKey) -> Any:
        if key.key_id not in self._keys:
            from cryptography.hazmat.primitives.serialization import load_der_public_key

            if key.public_key:
                der = base64.b64decode(key.public_key, validate=True)
            elif self._fetch is not None:
                der = self._fetch(key.key_id)
            else:
                raise SignatureInvalid(f"no public key is pinned for {key.key_id!r}")
            self._keys[key.key_id] = load_der_public_key(der)
            self.fetches += 1
        return self._keys[key.key_id]

    def verify(
        self,
        purpose: Purpose,
        key_id: str,
        message: bytes,
        signature: str,
        *,
        now: datetime | None = None,
        error: type[ActionRejected] = SignatureInvalid,
        algorithm: str = ALGORITHM,
    ) -> None:
        """Raise `error` unless a key trusted for `purpose` signed `message` (ECDSA P-256,
        SHA-256); KeyRetired when that key is past its cut-off."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        key = next((k for k in self.trusted.of(purpose) if k.key_id == key_id), None)
        if key is None:
            raise error(f"{purpose} signature by a key not trusted for {purpose}: {key_id!r}")
        moment = now or datetime.now(UTC)
        if key.not_after is not None and moment >= key.not_after:
            raise KeyRetired(
                f"{purpose} key {key_id} was retired at {key.not_after.isoformat()}",
                purpose=purpose,
                key_id=key_id,
            )
        if algorithm != ALGORITHM:
            raise error(f"unsupported signing algorithm {algorithm!r}")
        try:
            raw = base64.b64decode(signature, validate=True)
        except ValueError:
            raise error(f"{purpose} signature is not base64") from None
        try:
            self._public_key(key).verify(raw, message, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise error(f"{purpose} signature does not verify with {key_id}") from None


def kms_fetch(kms: Any) -> Callable[[str], bytes]:
    """Public keys from KMS (GetPublicKey), for a one-stack execution plane."""
    return lambda key_id: bytes(kms.get_public_key(KeyId=key_id)["PublicKey"])


def pins(kms: Any, key_ids: dict[Purpose, list[str]]) -> dict[str, list[dict[str, str]]]:
    """The pins for `-c trusted_keys`: per purpose, each key id with its public key from KMS."""
    return {
        purpose: [
            {"key_id": key_id, "public_key": base64.b64encode(kms_fetch(kms)(key_id)).decode()}
            for key_id in ids
        ]
        for purpose, ids in key_ids.items()
    }
