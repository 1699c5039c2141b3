"""Large action bodies as claim checks: content-addressed objects the signed plan covers.

The action queue takes at most 64 KiB per message and Step Functions 256 KiB per state, so an
action whose params encode to more than `inline_max` bytes travels as a claim check: before
the plan is recorded and the message sent, Decide (the proposer) puts the params in the body
store, `bodies/<sha256>.json` in the context bucket, and the action carries
`{"$claim": {"bucket", "key", "bytes", "sha256"}}` as its params everywhere outside Decide and
Execute (the state, the queue message, the ledger's action item). The action's digest — the
one the plan signs and an approval binds to — is computed over the real params, so the
signature covers the content; the claim's SHA-256 addresses it.

Execute redeems a claim before anything else (`redeem`): the key must be the store's own key
for the digest, the object must exist and hash to the digest, and the params are put back; a
missing or mismatching body is a `ClaimInvalid` rejection, recorded like any refusal. A claim
whose body hashes right but is not what the plan signed fails the digest check that follows
(`ACTION_NOT_IN_PLAN`).

Settings come from the environment: `AIOS_CONTEXT_BUCKET` (the bucket; unset: params stay
inline) and `AIOS_BODY_INLINE_MAX_BYTES` (default 8 KiB, so that twenty actions, the plan and
a 64 KiB input still fit in one state).
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from aios.errors import ClaimInvalid
from aios.memory.context import CLAIM, is_claim
from aios.plans import PlannedAction

PREFIX = "bodies/"
DEFAULT_INLINE_MAX = 8 * 1024
RESULT_INLINE_MAX = 8 * 1024
MISSING = frozenset({"NoSuchKey", "404", "NotFound", "AccessDenied", "403"})


def _encode(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def body_key(sha256: str) -> str:
    return f"{PREFIX}{sha256}.json"


def store_settings() -> tuple[str, int]:
    """The body store's bucket (empty: claim checks off) and the inline threshold."""
    bucket = os.environ.get("AIOS_CONTEXT_BUCKET", "")
    inline_max = int(os.environ.get("AIOS_BODY_INLINE_MAX_BYTES", str(DEFAULT_INLINE_MAX)))
    return bucket, inline_max


def check_in(action: PlannedAction, *, s3: Any, bucket: str, inline_max: int) -> PlannedAction:
    """`action` itself when its params encode to at most `inline_max` bytes, else the action
    with its params stored and replaced by a claim check (digest and gate unchanged).

    Idempotent: the key is the content's digest, so a retried Decide writes the same object.
    """
    if not bucket or is_claim(action.params):
        return action
    body = _encode(action.params)
    if len(body) <= inline_max:
        return action
    sha = hashlib.sha256(body).hexdigest()
    s3.put_object(
        Bucket=bucket, Key=body_key(sha), Body=body, ContentType="application/json",
        ServerSideEncryption="AES256",
    )  # fmt: skip
    claim = {CLAIM: {"bucket": bucket, "key": body_key(sha), "bytes": len(body), "sha256": sha}}
    return action.model_copy(update={"params": claim})


def redeem(action: PlannedAction, *, s3: Any, bucket: str) -> PlannedAction:
    """The action with claim-checked params put back, verified against the claim's digest;
    unchanged when its params are inline. Raises ClaimInvalid; lets transient S3 errors out."""
    if not is_claim(action.params):
        return action
    params = redeem_params(action.params, s3=s3, bucket=bucket, what=f"action {action.action_id}")
    return action.model_copy(update={"params": params})


def redeem_params(params: dict[str, Any], *, s3: Any, bucket: str, what: str) -> dict[str, Any]:
    """The params a claim check stands for (inline params unchanged), verified; see `redeem`."""
    if not is_claim(params):
        return params
    claim = params[CLAIM]
    sha = str(claim.get("sha256", "")) if isinstance(claim, dict) else ""
    if not bucket or len(sha) != 64 or claim != {**claim, "bucket": bucket, "key": body_key(sha)}:
        raise ClaimInvalid(f"{what}: the claim is not one of the body store")
    body = _fetch(s3, bucket, body_key(sha), what)
    if hashlib.sha256(body).hexdigest() != sha:
        raise ClaimInvalid(f"{what}: the claimed body does not match its digest")
    try:
        value = json.loads(body)
    except ValueError:
        raise ClaimInvalid(f"{what}: the claimed body is not JSON") from None
    if not isinstance(value, dict):
        raise ClaimInvalid(f"{what}: the claimed body is not an object")
    return value


def _fetch(s3: Any, bucket: str, key: str, what: str) -> bytes:
    from botocore.exceptions import ClientError

    try:
        body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in MISSING:
            raise ClaimInvalid(f"{what}: the claimed body {key} is missing") from None
        raise
    return body


def task_result(result: dict[str, Any], inline_max: int = RESULT_INLINE_MAX) -> dict[str, Any]:
    """An applied action's result as its task answer carries it into the state: itself when
    small, else `{"$ledger": {"bytes", "sha256"}}` — the ledger's action item holds it (Step
    Functions takes at most 256 KiB per task output and per state)."""
    body = _encode(result)
    if len(body) <= inline_max:
        return result
    return {"$ledger": {"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}}


def params_of(params: dict[str, Any], s3: Any) -> dict[str, Any]:
    """A ledger action's params, redeemed when claim-checked (for readers after Execute:
    compensation); unverifiable claims raise ClaimInvalid."""
    bucket, _ = store_settings()
    return redeem_params(params, s3=s3, bucket=bucket, what="a recorded action")
