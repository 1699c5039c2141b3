"""Signed attestations: why an action may run, signed by a key of its own kind.

An attestation says who or what allowed actions: the process policy (`policy`: the auto gate,
one signature per plan over every auto action's digest, so a plan costs one KMS Sign for them
all) or people (`human`: an approval's approvers and quorum, or an operator acting by hand).
Its claim binds the case, the plan, the action digests, the rule or the people, and the
process spec (name, version, SHA-256); KMS signs the claim's canonical bytes (RFC 8785, RAW,
ECDSA P-256) with the key of its kind, never the plan key.

It is written to the ledger (the action item's `attestation`, as before, with `signed`) and
carried with the action message, so the execution plane verifies it with pinned public keys
(`aios.keyring`) and reads no decision ledger for it: a row written into a table is never
enough to make an action runnable.

An operator's act-by-hand is signed when the move is recorded, before Decide has made the
actions; it binds the content digests (`binds="content"`: SHA-256 of the canonical
`{"capability", "params"}`) of the actions the operator checked, for the case and handoff.
"""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from aios.errors import AttestationInvalid, AttestationMissing, InvalidInput
from aios.keyring import ALGORITHM, Keyring
from aios.signing import MAX_SIGNED_BYTES, KmsClient, PlanEnvelope, SpecRef, canonical_json, digest

ATTESTATION_VERSION = 1
MAX_DIGESTS = 40
"""An attestation's claim stays below KMS's 4096-byte RAW limit (a plan has at most 20
actions; a re-plan's earlier actions are not attested again)."""


class AttestationClaim(BaseModel):
    """What an attestation signature covers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = ATTESTATION_VERSION
    type: Literal["policy", "human"]
    case_id: str = Field(min_length=1, max_length=200)
    plan_id: str = Field(default="", max_length=200, description="empty for an act-by-hand")
    binds: Literal["action", "content"] = "action"
    action_digests: tuple[str, ...] = Field(min_length=1, max_length=MAX_DIGESTS)
    spec: SpecRef
    rule: str = Field(default="", max_length=200)
    approvers: tuple[str, ...] = ()
    quorum: int | None = Field(default=None, ge=1)
    operator: str | None = Field(default=None, max_length=200)
    approval_id: str | None = Field(default=None, max_length=200)
    handoff_id: str | None = Field(default=None, max_length=200)
    issued_at: str
    key_id: str = Field(max_length=2048, description="empty: unsigned (never runnable)")
    algorithm: str = ALGORITHM

    def record(self, action_digest: str) -> dict[str, Any]:
        """The ledger's readable form for one action (`type`, `rule`, `approvers`, ...)."""
        shown = self.model_dump(
            mode="json",
            exclude_none=True,
            exclude={"action_digests", "version", "algorithm", "binds", "key_id"},
        )
        if not self.approvers:
            shown.pop("approvers", None)
        return {**shown, "digest": action_digest, "at": self.issued_at}


class SignedAttestation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    claim: AttestationClaim
    signature: str = Field(min_length=1, max_length=200, description="base64 DER ECDSA")


def content_digest(capability: str, params: dict[str, Any]) -> str:
    """What an act-by-hand attestation binds per action: the capability and its params."""
    return digest({"capability": capability, "params": params})


def claim_bytes(claim: AttestationClaim) -> bytes:
    return canonical_json(claim.model_dump(mode="json", exclude_none=True))


def sign_attestation(kms: KmsClient, claim: AttestationClaim) -> SignedAttestation:
    """Sign the claim with its own KMS key: one KMS call, however many digests it binds."""
    message = claim_bytes(claim)
    if len(message) > MAX_SIGNED_BYTES:
        raise InvalidInput(f"attestation is {len(message)} bytes; at most {MAX_SIGNED_BYTES}")
    response = kms.sign(
        KeyId=claim.key_id, Message=message, MessageType="RAW", SigningAlgorithm=ALGORITHM
    )
    signature = base64.b64encode(response["Signature"]).decode("ascii")
    return SignedAttestation(claim=claim, signature=signature)


def human_key_id() -> str:
    """The human attestation key (`AIOS_HUMAN_KEY_ID`), held by the approvals function and the
    operator's console; empty: attestations stay unsigned and the execution plane refuses them."""
    return os.environ.get("AIOS_HUMAN_KEY_ID", "")


def sign_human(claim: AttestationClaim) -> dict[str, Any] | None:
    """The signed human attestation (one KMS Sign), or None without a human key."""
    if not claim.key_id:
        return None
    from aios import aws

    return sign_attestation(aws.client("kms"), claim).model_dump(mode="json")


def issued_now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def verify_attestation(
    signed: SignedAttestation | None,
    keyring: Keyring,
    *,
    envelope: PlanEnvelope,
    action_digest: str,
    content: str,
    now: datetime | None = None,
) -> AttestationClaim:
    """The claim, once a key pinned for its kind signed it and it binds this action of this
    plan under the spec the plan was signed for; AttestationMissing or AttestationInvalid
    (KeyRetired past a key's cut-off) otherwise."""
    if signed is None:
        raise AttestationMissing("the action carries no signed attestation")
    claim = signed.claim
    keyring.verify(
        claim.type,
        claim.key_id,
        claim_bytes(claim),
        signed.signature,
        now=now,
        error=AttestationInvalid,
        algorithm=claim.algorithm,
    )
    if claim.case_id != envelope.case_id:
        raise AttestationInvalid(f"the attestation is for case {claim.case_id}, not this one")
    if claim.spec != envelope.spec:
        raise AttestationInvalid(
            f"the attestation binds spec {claim.spec.name} {claim.spec.version} "
            f"({claim.spec.sha256[:12]}), not the one the plan was signed under"
        )
    if claim.binds == "content":
        if claim.type != "human" or not claim.operator or content not in claim.action_digests:
            raise AttestationInvalid("the act-by-hand attestation does not bind this action")
        return claim
    if claim.plan_id != envelope.plan_id or action_digest not in claim.action_digests:
        raise AttestationInvalid("the attestation does not bind this action's digest")
    return claim
