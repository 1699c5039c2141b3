"""Audit checkpoints: what one says, how it is signed, how a signature is checked.

A checkpoint lists, for every audit chain whose head moved in its period, the chain's head
hash and sequence number, plus the digest of the previous checkpoint, so checkpoints form a
chain of their own. Its digest is the SHA-256 of its canonical JSON (RFC 8785,
`aios.signing.canonical_json`). KMS signs a short statement naming that digest and the key
(`MessageType=RAW`, ECDSA_SHA_256, as plans are signed), so a checkpoint of any length is one
Sign call and stays below KMS's 4096-byte RAW limit.
"""

from __future__ import annotations

import base64

from pydantic import BaseModel, ConfigDict, Field

from aios.audit import GENESIS
from aios.errors import CheckpointInvalid
from aios.signing import ALGORITHM, KmsClient, PublicKeyCache, canonical_json, digest

VERSION = 1
STATEMENT = "aios.audit.checkpoint"
"""What the signed statement says it is, so a checkpoint signature can pass for nothing else."""


class AnchoredHead(BaseModel):
    """One chain as the checkpoint saw it: its ledger partition, its name, its head."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pk: str
    chain: str
    seq: int = Field(ge=0)
    head: str = Field(pattern=r"^[0-9a-f]{64}$")


class Checkpoint(BaseModel):
    """The heads of the chains touched from `period_from` through `period_through` (UTC hours,
    both included), as read at `issued_at`; `previous` is the previous checkpoint's digest
    (GENESIS for the first)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = VERSION
    ledger: str
    sequence: int = Field(ge=1)
    period_from: str
    period_through: str
    issued_at: str
    previous: str = Field(pattern=r"^[0-9a-f]{64}$")
    heads: list[AnchoredHead]

    @property
    def digest(self) -> str:
        return digest(self.model_dump(mode="json"))

    def head_of(self, pk: str) -> AnchoredHead | None:
        return next((h for h in self.heads if h.pk == pk), None)


class SignedCheckpoint(BaseModel):
    """A checkpoint and the signature over its statement (base64 DER ECDSA)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    checkpoint: Checkpoint
    key_id: str
    algorithm: str = ALGORITHM
    signature: str


def statement(checkpoint_digest: str, key_id: str) -> bytes:
    """The exact bytes KMS signs for a checkpoint."""
    return canonical_json(
        {"statement": STATEMENT, "checkpoint": checkpoint_digest, "key_id": key_id}
    )


def sign_checkpoint(kms: KmsClient, key_id: str, checkpoint: Checkpoint) -> SignedCheckpoint:
    """One KMS Sign call over the checkpoint's statement."""
    response = kms.sign(
        KeyId=key_id,
        Message=statement(checkpoint.digest, key_id),
        MessageType="RAW",
        SigningAlgorithm=ALGORITHM,
    )
    signature = base64.b64encode(response["Signature"]).decode("ascii")
    return SignedCheckpoint(checkpoint=checkpoint, key_id=key_id, signature=signature)


def verify_checkpoint(
    signed: SignedCheckpoint, keys: PublicKeyCache, trusted_key_ids: set[str]
) -> None:
    """Raise CheckpointInvalid unless a trusted key signed exactly this checkpoint."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    sequence = signed.checkpoint.sequence
    if signed.key_id not in trusted_key_ids:
        raise CheckpointInvalid(
            f"checkpoint {sequence} is signed with untrusted key {signed.key_id!r}"
        )
    if signed.algorithm != ALGORITHM:
        raise CheckpointInvalid(f"checkpoint {sequence}: unsupported algorithm {signed.algorithm}")
    try:
        signature = base64.b64decode(signed.signature, validate=True)
        key = keys.get(signed.key_id)
        key.verify(
            signature, statement(signed.checkpoint.digest, signed.key_id), ec.ECDSA(hashes.SHA256())
        )
    except (InvalidSignature, ValueError) as exc:
        raise CheckpointInvalid(f"checkpoint {sequence}: the signature does not verify") from exc


def verify_succession(newer: Checkpoint, older: Checkpoint | None) -> None:
    """Raise CheckpointInvalid unless `newer` follows `older` (None: `newer` is the first)."""
    if older is None:
        if newer.sequence != 1 or newer.previous != GENESIS:
            raise CheckpointInvalid(
                f"checkpoint {newer.sequence} names a predecessor the bucket does not hold"
            )
        return
    if newer.sequence != older.sequence + 1 or newer.previous != older.digest:
        raise CheckpointInvalid(
            f"checkpoint {newer.sequence} does not follow checkpoint {older.sequence}"
        )
