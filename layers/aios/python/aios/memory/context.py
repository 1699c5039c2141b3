"""Ephemeral context: the case's state input, kept far below Step Functions' 256 KiB.

A value whose JSON encoding exceeds the threshold is stored in S3 and replaced in the state by
a claim check `{"$claim": {"bucket", "key", "bytes", "sha256"}}`; a reader redeems it where it
needs the value. The bucket's lifecycle rule expires claims: they are ephemeral, the ledger
keeps the truth.

Settings come from the environment: `AIOS_CONTEXT_BUCKET` (unset: claim checks off, values
stay inline) and `AIOS_CONTEXT_MAX_BYTES` (default 64 KiB, leaving room for the plan, memory
and results that join the input in the state).
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from aios.errors import ClaimCheckError

CLAIM = "$claim"
DEFAULT_MAX_BYTES = 64 * 1024


def _encode(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def is_claim(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {CLAIM}


def check_in(
    value: Any, *, s3: Any, bucket: str, key: str, max_bytes: int = DEFAULT_MAX_BYTES
) -> Any:
    """`value` itself when it encodes to at most `max_bytes`, else a claim check for it.

    Idempotent: the object key is the caller's (one per case and field) and the content is the
    same on a retry, so a replayed check-in overwrites the object with identical bytes.
    """
    if is_claim(value):
        return value
    body = _encode(value)
    if len(body) <= max_bytes:
        return value
    digest = hashlib.sha256(body).hexdigest()
    s3.put_object(
        Bucket=bucket, Key=key, Body=body, ContentType="application/json",
        ServerSideEncryption="AES256",
    )  # fmt: skip
    return {CLAIM: {"bucket": bucket, "key": key, "bytes": len(body), "sha256": digest}}


def check_out(value: Any, *, s3: Any) -> Any:
    """The value a claim check stands for (other values unchanged); its digest is verified."""
    if not is_claim(value):
        return value
    claim = value[CLAIM]
    try:
        body = s3.get_object(Bucket=claim["bucket"], Key=claim["key"])["Body"].read()
    except Exception as exc:  # boundary: any S3 failure makes the claim unredeemable
        raise ClaimCheckError(f"claim {claim.get('key')} cannot be read: {exc}") from exc
    if hashlib.sha256(body).hexdigest() != claim["sha256"]:
        raise ClaimCheckError(f"claim {claim['key']} does not match its digest")
    return json.loads(body)


def context_bucket() -> tuple[str, int]:
    """The claim bucket (empty: claim checks off) and the threshold, from the environment."""
    bucket = os.environ.get("AIOS_CONTEXT_BUCKET", "")
    max_bytes = int(os.environ.get("AIOS_CONTEXT_MAX_BYTES", str(DEFAULT_MAX_BYTES)))
    return bucket, max_bytes


def check_in_case_input(execution_input: dict[str, Any], s3: Any) -> dict[str, Any]:
    """The execution input with its `input` claim-checked when large (bucket configured)."""
    bucket, max_bytes = context_bucket()
    if not bucket:
        return execution_input
    key = f"cases/{execution_input['case_id']}/input.json"
    claimed = check_in(execution_input["input"], s3=s3, bucket=bucket, key=key, max_bytes=max_bytes)
    return {**execution_input, "input": claimed}


def check_out_case_input(event: dict[str, Any], s3: Any) -> dict[str, Any]:
    """The event with a claim-checked `input` redeemed (unchanged otherwise)."""
    if not is_claim(event.get("input")):
        return event
    return {**event, "input": check_out(event["input"], s3=s3)}
