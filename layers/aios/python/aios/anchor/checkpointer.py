"""Take an audit checkpoint: the heads of every chain touched since the last one, signed and
locked in S3."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aios.anchor.checkpoint import (
    AnchoredHead,
    Checkpoint,
    SignedCheckpoint,
    sign_checkpoint,
    verify_checkpoint,
)
from aios.anchor.store import latest, put_checkpoint
from aios.audit import GENESIS
from aios.ledger.chains import hours, touched_heads
from aios.ledger.repository import iso
from aios.signing import PublicKeyCache


def take_checkpoint(
    s3: Any,
    kms: Any,
    *,
    bucket: str,
    key_id: str,
    ledger: str,
    now: datetime,
    retention_days: int,
    first_lookback_hours: int,
) -> tuple[SignedCheckpoint, str]:
    """Anchor the heads of every chain whose head moved since the previous checkpoint's period
    (its last hour included again: it may have run before that hour ended), or in the last
    `first_lookback_hours` before the first one. Returns the checkpoint and its object key.

    Reads the ledger's `AuditPeriods` index (one Query per hour) and the heads (consistent
    BatchGetItem), never scans; one KMS Sign; one PutObject locked for `retention_days`.
    The previous checkpoint must carry this key's valid signature (CheckpointInvalid
    otherwise): a forged newest version in the bucket is never chained on.
    """
    now = now.astimezone(UTC)
    previous = latest(s3, bucket)
    if previous is not None:
        verify_checkpoint(previous, PublicKeyCache.from_kms(kms), {key_id})
        since = datetime.strptime(previous.checkpoint.period_through, "%Y-%m-%dT%H")
        since = since.replace(tzinfo=UTC)
    else:
        since = now - timedelta(hours=first_lookback_hours)
    periods = hours(since, max(since, now))  # a late retry of an older run still covers an hour
    heads = [
        AnchoredHead(pk=h.pk, chain=h.chain, seq=h.seq, head=h.head)
        for h in touched_heads(periods)
        if h.seq > 0
    ]
    checkpoint = Checkpoint(
        ledger=ledger,
        sequence=previous.checkpoint.sequence + 1 if previous else 1,
        period_from=periods[0],
        period_through=periods[-1],
        issued_at=iso(now),
        previous=previous.checkpoint.digest if previous else GENESIS,
        heads=heads,
    )
    signed = sign_checkpoint(kms, key_id, checkpoint)
    key = put_checkpoint(s3, bucket, signed, now + timedelta(days=retention_days))
    return signed, key
