"""The audit anchor against the ledger, KMS and S3 Object Lock (moto, in-process): checkpoints
list the chains whose heads moved, chain to each other, are signed and locked; a chain
rewritten with its head, a deleted case, and a tampered or foreign checkpoint are detected."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from aios.anchor import (
    SignedCheckpoint,
    check_chain,
    latest,
    newest_first,
    object_key,
    take_checkpoint,
    verified_checkpoints,
)
from aios.anchor.checkpoint import sign_checkpoint
from aios.audit import chain_events
from aios.errors import CheckpointInvalid
from aios.ledger import LedgerItem, commit, create_case, get_case, put_rejection
from aios.ledger.chains import hours, load_chain, touched_heads
from aios.ledger.control import commit_control
from aios.signing import PublicKeyCache
from botocore.exceptions import ClientError

BUCKET = "anchor"


@pytest.fixture
def bucket(aws: None) -> str:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(
        Bucket=BUCKET,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
        },
    )
    return BUCKET


def checkpoint(kms: Any, key: str, now: datetime | None = None) -> SignedCheckpoint:
    signed, _ = take_checkpoint(
        boto3.client("s3"),
        kms,
        bucket=BUCKET,
        key_id=key,
        ledger="ledger",
        now=now or datetime.now(UTC),
        retention_days=7,
        first_lookback_hours=2,
    )
    return signed


def verified(kms: Any, key: str) -> list[Any]:
    stored = newest_first(boto3.client("s3"), BUCKET)
    return verified_checkpoints(stored, PublicKeyCache.from_kms(kms), {key})


def new_case(case_id: str) -> None:
    create_case(case_id, "RECEIVED", {"process": "p"}, [("case.received", {"n": 1})])
    commit(case_id, [("plan.signed", {"n": 2}), ("action.applied", {"amount": 10})])


def test_a_checkpoint_anchors_every_moved_chain_cases_control_and_rejections(
    ledger: str, kms: Any, plan_key: str, bucket: str
) -> None:
    new_case("c-1")
    new_case("c-2")
    put_rejection("m-1", {"code": "MALFORMED_MESSAGE", "message": "not JSON"}, "{forged")
    commit_control(lambda data: ({**data, "capability": ["x"]}, [("revoked", {"x": 1})]))
    signed = checkpoint(kms, plan_key)
    heads = {h.pk: (h.chain, h.seq, h.head) for h in signed.checkpoint.heads}
    assert set(heads) == {"CASE#c-1", "CASE#c-2", "CONTROL", "REJECTION#m-1"}
    assert heads["CASE#c-1"][1:] == (3, get_case("c-1").head)
    assert heads["REJECTION#m-1"][:2] == ("rejection/m-1", 1)
    assert heads["CONTROL"][0] == "control/revocations"
    assert signed.checkpoint.sequence == 1 and signed.checkpoint.previous == "0" * 64
    [found] = verified(kms, plan_key)
    assert found == signed.checkpoint
    for pk in heads:
        finding = check_chain(pk, [found])
        assert finding.valid and finding.anchored_in == [1], finding


def test_checkpoints_chain_and_list_only_the_hours_since_the_last(
    ledger: str, kms: Any, plan_key: str, bucket: str
) -> None:
    new_case("c-old")
    LedgerItem("CASE#c-old", "CASE").update(
        actions=[LedgerItem.audit_period.set("2020-01-01T00")]
    )  # moved long ago: outside every period looked at below
    new_case("c-new")
    first = checkpoint(kms, plan_key)
    assert [h.pk for h in first.checkpoint.heads] == ["CASE#c-new"]
    later = datetime.now(UTC) + timedelta(hours=3)
    second = checkpoint(kms, plan_key, later)
    assert second.checkpoint.sequence == 2
    assert second.checkpoint.previous == first.checkpoint.digest
    assert second.checkpoint.period_from == first.checkpoint.period_through
    assert second.checkpoint.period_through == later.strftime("%Y-%m-%dT%H")
    assert [c.sequence for c in verified(kms, plan_key)] == [2, 1]
    assert latest(boto3.client("s3"), BUCKET) == second


def test_the_head_enters_the_hours_index_only_when_its_hour_changes(ledger: str) -> None:
    new_case("c-1")
    case = get_case("c-1")
    assert case.audit_period == case.updated_at[:13]
    LedgerItem("CASE#c-1", "CASE").update(actions=[LedgerItem.audit_period.set("2020-01-01T00")])
    assert [h.pk for h in touched_heads(["2020-01-01T00"])] == ["CASE#c-1"]
    commit("c-1", [("case.noted", {})])
    moved = get_case("c-1").audit_period
    assert moved is not None and moved != "2020-01-01T00"
    assert touched_heads(["2020-01-01T00"]) == []
    assert [h.seq for h in touched_heads([moved])] == [4]


def test_hours_lists_every_hour_between_both_ends() -> None:
    start = datetime(2026, 12, 1, 22, 59, tzinfo=UTC)
    assert hours(start, start + timedelta(hours=2, minutes=1)) == [
        "2026-12-01T22",
        "2026-12-01T23",
        "2026-12-02T00",
        "2026-12-02T01",
    ]


def _rewrite(case_id: str, amount: int) -> None:
    """What a writer of the table can do: recompute events 2.. and the head consistently."""
    _, events = load_chain(f"CASE#{case_id}")
    forged = chain_events(
        case_id,
        1,
        events[0].hash,
        [
            (e.type, {**e.data, "amount": amount} if "amount" in e.data else e.data)
            for e in events[1:]
        ],
        events[1].at,
    )
    for event in forged:
        LedgerItem(f"CASE#{case_id}", f"AUDIT#{event.seq:010d}").update(
            actions=[LedgerItem.data.set(event.data), LedgerItem.head.set(event.hash),
                     LedgerItem.prev_hash.set(event.prev_hash)]
        )  # fmt: skip
    LedgerItem(f"CASE#{case_id}", "CASE").update(actions=[LedgerItem.head.set(forged[-1].hash)])


def test_events_rewritten_with_their_head_are_detected_by_the_checkpoint(
    ledger: str, kms: Any, plan_key: str, bucket: str
) -> None:
    new_case("c-1")
    checkpoint(kms, plan_key)
    _rewrite("c-1", 9999)
    head, events = load_chain("CASE#c-1")
    from aios.audit import verify_chain

    assert head is not None and verify_chain(events, head.seq, head.head).valid  # alone: fine
    finding = check_chain("CASE#c-1", verified(kms, plan_key))
    assert not finding.valid
    assert (
        finding.problem == "rewritten: event 3 no longer hashes to the anchored head (checkpoint 1)"
    )


def test_a_rewrite_anchored_again_later_is_still_caught_by_the_earlier_checkpoint(
    ledger: str, kms: Any, plan_key: str, bucket: str
) -> None:
    new_case("c-1")
    checkpoint(kms, plan_key)
    _rewrite("c-1", 1)
    checkpoint(kms, plan_key)  # the forged head is anchored too: the first still disagrees
    finding = check_chain("CASE#c-1", verified(kms, plan_key))
    assert not finding.valid and finding.anchored_in == [2, 1]
    assert finding.problem is not None and "(checkpoint 1)" in finding.problem


def test_a_deleted_case_is_detected(ledger: str, kms: Any, plan_key: str, bucket: str) -> None:
    new_case("c-1")
    checkpoint(kms, plan_key)
    for item in LedgerItem.query("CASE#c-1"):
        item.delete()
    finding = check_chain("CASE#c-1", verified(kms, plan_key))
    assert not finding.valid and finding.missing
    assert finding.problem == (
        "deleted: checkpoint 1 anchored it at event 3, the ledger holds nothing of it"
    )


def test_a_truncated_tail_with_its_head_moved_back_is_detected(
    ledger: str, kms: Any, plan_key: str, bucket: str
) -> None:
    new_case("c-1")
    checkpoint(kms, plan_key)
    _, events = load_chain("CASE#c-1")
    LedgerItem("CASE#c-1", "AUDIT#0000000003").delete()
    LedgerItem("CASE#c-1", "CASE").update(
        actions=[LedgerItem.seq.set(2), LedgerItem.head.set(events[1].hash)]
    )
    finding = check_chain("CASE#c-1", verified(kms, plan_key))
    assert finding.problem == (
        "truncated: 2 events, the checkpoint anchored event 3 (checkpoint 1)"
    )


def _stored(key: str) -> dict[str, Any]:
    body = boto3.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return dict(json.loads(body))


def _put_version(key: str, body: dict[str, Any]) -> None:
    """A writer of the bucket adds a new version under the key (the locked one stays)."""
    boto3.client("s3").put_object(
        Bucket=BUCKET, Key=key, Body=json.dumps(body).encode(), ChecksumAlgorithm="SHA256"
    )


def test_a_tampered_checkpoint_is_refused(
    ledger: str, kms: Any, plan_key: str, bucket: str
) -> None:
    new_case("c-1")
    checkpoint(kms, plan_key)
    key = object_key(1)
    body = _stored(key)
    body["checkpoint"]["heads"] = []  # hide the case from the anchor
    _put_version(key, body)
    with pytest.raises(CheckpointInvalid, match="checkpoint 1: the signature does not verify"):
        verified(kms, plan_key)
    body["signature"] = ""
    _put_version(key, body)
    with pytest.raises(CheckpointInvalid, match="signature does not verify"):
        verified(kms, plan_key)


def test_the_checkpointer_never_chains_on_a_forged_newest_version(
    ledger: str, kms: Any, plan_key: str, bucket: str
) -> None:
    new_case("c-1")
    first = checkpoint(kms, plan_key)
    body = first.model_dump(mode="json")
    body["checkpoint"]["heads"] = []
    _put_version(object_key(1), body)
    with pytest.raises(CheckpointInvalid, match="signature does not verify"):
        checkpoint(kms, plan_key)
    assert [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]] == [
        object_key(1)
    ]


def test_a_checkpoint_signed_by_another_key_or_out_of_the_chain_is_refused(
    ledger: str, kms: Any, plan_key: str, bucket: str
) -> None:
    new_case("c-1")
    first = checkpoint(kms, plan_key)
    other = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    forged = sign_checkpoint(kms, other, first.checkpoint)
    _put_version(object_key(1), forged.model_dump(mode="json"))
    with pytest.raises(CheckpointInvalid, match="untrusted key"):
        verified(kms, plan_key)
    _put_version(object_key(1), first.model_dump(mode="json"))
    orphan = first.checkpoint.model_copy(update={"sequence": 2, "previous": "f" * 64})
    _put_version(object_key(2), sign_checkpoint(kms, plan_key, orphan).model_dump(mode="json"))
    with pytest.raises(CheckpointInvalid, match="checkpoint 2 does not follow checkpoint 1"):
        verified(kms, plan_key)


def test_checkpoints_are_locked_and_moto_refuses_to_delete_the_locked_version(
    ledger: str, kms: Any, plan_key: str, bucket: str
) -> None:
    """What moto enforces: a locked version cannot be deleted; an overwrite is a new version
    and the locked one stays as it was. (moto does not refuse shortening a COMPLIANCE
    retention; AWS does.)"""
    now = datetime.now(UTC)
    first = checkpoint(kms, plan_key, now)
    s3 = boto3.client("s3")
    key = object_key(1)
    [version] = s3.list_object_versions(Bucket=BUCKET, Prefix=key)["Versions"]
    head = s3.head_object(Bucket=BUCKET, Key=key)  # (moto 5.2.5's GetObjectRetention fails)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert abs(head["ObjectLockRetainUntilDate"] - (now + timedelta(days=7))) < timedelta(seconds=2)
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.delete_object(Bucket=BUCKET, Key=key, VersionId=version["VersionId"])
    with pytest.raises(ClientError, match="PreconditionFailed"):  # If-None-Match: one per sequence
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"{}", IfNoneMatch="*")
    _put_version(key, {"forged": True})
    kept = s3.get_object(Bucket=BUCKET, Key=key, VersionId=version["VersionId"])["Body"].read()
    assert SignedCheckpoint.model_validate_json(kept) == first


def test_an_orphan_rejection_is_a_chain_recorded_once(ledger: str) -> None:
    put_rejection("m-1", {"code": "MALFORMED_MESSAGE"}, "{forged")
    put_rejection("m-1", {"code": "MALFORMED_MESSAGE"}, "{forged")  # redelivered
    head, events = load_chain("REJECTION#m-1")
    assert head is not None and head.seq == 1 and [e.type for e in events] == ["message.rejected"]
    from aios.audit import verify_chain

    assert verify_chain(events, head.seq, head.head).valid
    assert events[0].data["reason"] == {"code": "MALFORMED_MESSAGE"}
    item = LedgerItem.get("REJECTION#m-1", "REJECTION")
    assert (item.queue, item.status, item.data["body"]) == ("rejections", "REJECTED", "{forged")


def test_a_late_retry_with_an_older_clock_still_chains_a_checkpoint(
    ledger: str, kms: Any, plan_key: str, bucket: str
) -> None:
    new_case("c-1")
    first = checkpoint(kms, plan_key, datetime.now(UTC) + timedelta(hours=3))
    late = checkpoint(kms, plan_key, datetime.now(UTC))  # EventBridge retried an older event
    assert late.checkpoint.previous == first.checkpoint.digest
    assert late.checkpoint.period_from == late.checkpoint.period_through
    assert late.checkpoint.period_from == first.checkpoint.period_through
