"""What one audit checkpoint costs, in AWS calls and bytes, and what the anchor adds to writes.

In-process on moto: a ledger table as the stack creates it (with the `AuditPeriods` index),
an Object Lock bucket and an ECC P-256 key. It writes `--cases` cases of `--commits`
transactions each and `--rejections` orphan rejections, takes one checkpoint and prints:

- the transactions written and how many of them moved a head to a new hour (the only writes
  that reach the keys-only index), as a ratio;
- the checkpoint's AWS calls by operation (the DynamoDB calls counted on pynamodb's client),
  its object size, and bytes per anchored chain;
- the time of the checkpoint on moto, as a ratio to the time of writing the cases (moto is
  not AWS: the ratio, not the seconds, is the figure).

    .venv/bin/python bench/audit_anchor.py [--cases 300] [--commits 4] [--rejections 20]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "aios" / "python"))
sys.path.insert(0, str(ROOT))

for name, value in {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}.items():
    os.environ[name] = value
os.environ.pop("AWS_ENDPOINT_URL", None)


def _table(ddb: Any) -> None:
    names = ("pk", "sk", "queue", "queued_at", "process", "created_at", "audit_period")
    ddb.create_table(
        TableName="ledger",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in names],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": hash_key, "KeyType": "HASH"},
                    {"AttributeName": range_key, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
            for index, hash_key, range_key in (
                ("Queues", "queue", "queued_at"),
                ("ByProcess", "process", "created_at"),
                ("AuditPeriods", "audit_period", "pk"),
            )
        ],
    )


def _count(client: Any, calls: Counter[str], prefix: str) -> None:
    client.meta.events.register(
        "before-call.*.*", lambda model, **_: calls.update([f"{prefix}:{model.name}"])
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--commits", type=int, default=4)
    parser.add_argument("--rejections", type=int, default=20)
    args = parser.parse_args()

    import boto3
    from moto import mock_aws

    with mock_aws():
        from aios.anchor import take_checkpoint
        from aios.ledger import LedgerItem, bind_ledger, commit, create_case, put_rejection

        _table(boto3.client("dynamodb"))
        bind_ledger("ledger")
        s3, kms = boto3.client("s3"), boto3.client("kms")
        s3.create_bucket(Bucket="anchor", ObjectLockEnabledForBucket=True)
        key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
        writes: Counter[str] = Counter()
        from aios.ledger.repository import _conn

        clients = {
            id(c): c for c in (LedgerItem._get_connection().connection.client, _conn().client)
        }
        for client in clients.values():  # the model's and the transactions' connections
            _count(client, writes, "dynamodb")
        started = time.perf_counter()
        for i in range(args.cases):
            create_case(f"c-{i}", "RECEIVED", {"process": "p"}, [("case.received", {})])
            for n in range(args.commits - 1):
                commit(f"c-{i}", [("case.noted", {"n": n})])
        for i in range(args.rejections):
            put_rejection(f"m-{i}", {"code": "MALFORMED_MESSAGE"}, "{forged")
        writing = time.perf_counter() - started
        transactions = writes["dynamodb:TransactWriteItems"]
        moved = sum(1 for item in LedgerItem.scan() if item.audit_period)  # one per chain-hour

        calls: Counter[str] = Counter()
        _count(s3, calls, "s3")
        _count(kms, calls, "kms")
        before = Counter(writes)
        started = time.perf_counter()
        signed, object_key = take_checkpoint(
            s3,
            kms,
            bucket="anchor",
            key_id=key["Arn"],
            ledger="ledger",
            now=datetime.now(UTC),
            retention_days=365,
            first_lookback_hours=2,
        )
        checkpointing = time.perf_counter() - started
        calls.update(writes - before)
        calls = Counter(calls)  # the checkpoint's calls only, not the size read below
        size = len(s3.get_object(Bucket="anchor", Key=object_key)["Body"].read())

    chains = len(signed.checkpoint.heads)
    print(f"ledger: {args.cases} cases x {args.commits} transactions, {args.rejections} rejections")
    print(
        f"transactions written: {transactions}; heads entering an hour of the index: {moved}"
        f" ({moved / transactions:.3f} index entries per transaction; every other"
        " transaction leaves the keys-only index untouched)"
    )
    print(f"checkpoint {signed.checkpoint.sequence}: {chains} chains anchored")
    for name, count in sorted(calls.items()):
        print(f"  {name:<32} {count}")
    print(f"object: {size} bytes, {size / chains:.0f} bytes per chain")
    print(
        f"time on moto: checkpoint {checkpointing:.2f}s, writing the ledger {writing:.2f}s"
        f" (ratio {checkpointing / writing:.3f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
