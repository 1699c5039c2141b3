"""Checkpoints in the S3 Object Lock bucket: one object per checkpoint, never rewritten.

The key counts down (`checkpoints/<999999999999 - sequence>.json`), so a listing, which S3
returns in key order, starts at the newest checkpoint: finding the latest is one List call.
Each object is put with COMPLIANCE retention (nobody, root included, can delete or shorten it
before it expires) and `If-None-Match: *`, so two runs can never both write one sequence.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from aios.anchor.checkpoint import SignedCheckpoint
from aios.errors import CheckpointInvalid

PREFIX = "checkpoints/"
MAX_SEQUENCE = 10**12 - 1
LOCK_MODE = "COMPLIANCE"


def object_key(sequence: int) -> str:
    return f"{PREFIX}{MAX_SEQUENCE - sequence:012d}.json"


def put_checkpoint(s3: Any, bucket: str, signed: SignedCheckpoint, retain_until: datetime) -> str:
    """Store the checkpoint locked until `retain_until`; returns its object key."""
    key = object_key(signed.checkpoint.sequence)
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps(signed.model_dump(mode="json"), sort_keys=True).encode(),
        ContentType="application/json",
        ChecksumAlgorithm="SHA256",
        IfNoneMatch="*",
        ObjectLockMode=LOCK_MODE,
        ObjectLockRetainUntilDate=retain_until,
    )
    return key


def newest_first(s3: Any, bucket: str) -> Iterator[SignedCheckpoint]:
    """Every checkpoint in the bucket, newest first, each as stored (not yet verified).

    CheckpointInvalid for an object that is no checkpoint or sits under another sequence's key.
    """
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=PREFIX)
    for page in pages:
        for entry in page.get("Contents", []):
            yield read_checkpoint(s3, bucket, entry["Key"])


def latest(s3: Any, bucket: str) -> SignedCheckpoint | None:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=PREFIX, MaxKeys=1).get("Contents", [])
    return read_checkpoint(s3, bucket, listed[0]["Key"]) if listed else None


def read_checkpoint(s3: Any, bucket: str, key: str) -> SignedCheckpoint:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    try:
        signed = SignedCheckpoint.model_validate_json(body)
    except ValidationError as exc:
        raise CheckpointInvalid(f"{key} is not a checkpoint: {exc.errors()[0]['msg']}") from exc
    if object_key(signed.checkpoint.sequence) != key:
        raise CheckpointInvalid(
            f"{key} holds checkpoint {signed.checkpoint.sequence}, stored under another key"
        )
    return signed
