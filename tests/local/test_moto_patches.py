"""The emulation's speed patches to moto keep DynamoDB's answers (local.moto_patches 4 and 7):
a failed transaction leaves every item as it was and its stream records unseen, without copying
the table; a query sees only its partition (table) or its index key's items (GSI)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local import moto_patches


@pytest.fixture
def dynamodb(moto_endpoint: str) -> Iterator[tuple[Any, Any, str]]:
    moto_patches.fix_stream_transactions()
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    client = session.client("dynamodb", endpoint_url=moto_endpoint)
    streams = session.client("dynamodbstreams", endpoint_url=moto_endpoint)
    name = f"patches-{id(client)}"
    table = client.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "status")
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_status",
                "KeySchema": [
                    {"AttributeName": "status", "KeyType": "HASH"},
                    {"AttributeName": "pk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    yield client, streams, table["TableDescription"]["LatestStreamArn"]
    client.delete_table(TableName=name)


def _item(pk: str, sk: str, status: str, n: int = 0) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}, "status": {"S": status}, "n": {"N": str(n)}}


def test_a_failed_transaction_puts_back_what_it_touched_and_its_stream_records_vanish(
    dynamodb: tuple[Any, Any, str],
) -> None:
    client, streams, stream_arn = dynamodb
    table = stream_arn.split("/")[1]
    client.put_item(TableName=table, Item=_item("case-1", "a", "open", 1))
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    with pytest.raises(ClientError, match="TransactionCanceled"):
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": _item("case-1", "a", "done", 2)}},
                {"Put": {"TableName": table, "Item": _item("case-2", "a", "open", 3)}},
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": "case-1"}, "sk": {"S": "b"}},
                        "UpdateExpression": "SET n = :n",
                        "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeValues": {":n": {"N": "9"}},
                    }
                },
            ]
        )
    one = client.get_item(TableName=table, Key={"pk": {"S": "case-1"}, "sk": {"S": "a"}})
    assert one["Item"] == _item("case-1", "a", "open", 1)
    two = client.get_item(TableName=table, Key={"pk": {"S": "case-2"}, "sk": {"S": "a"}})
    assert "Item" not in two
    client.put_item(TableName=table, Item=_item("case-3", "a", "open", 4))
    records = streams.get_records(ShardIterator=iterator)["Records"]
    keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in records]
    assert keys == ["case-1", "case-3"]  # the failed transaction's two puts never show


def test_queries_see_their_partition_and_their_index_key_only(
    dynamodb: tuple[Any, Any, str],
) -> None:
    client, _, stream_arn = dynamodb
    table = stream_arn.split("/")[1]
    for i in range(6):
        client.put_item(
            TableName=table, Item=_item(f"case-{i % 2}", f"s{i}", "open" if i < 4 else "done", i)
        )
    # An item without the index's key attribute is in the table, not in the index.
    client.put_item(TableName=table, Item={"pk": {"S": "case-9"}, "sk": {"S": "s9"}})
    part = client.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "case-1"}},
        ScanIndexForward=False,
    )["Items"]
    assert [i["sk"]["S"] for i in part] == ["s5", "s3", "s1"]
    done = client.query(
        TableName=table,
        IndexName="by_status",
        KeyConditionExpression="#s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "done"}},
    )["Items"]
    assert sorted(i["sk"]["S"] for i in done) == ["s4", "s5"]
    assert client.scan(TableName=table)["Count"] == 7


def test_a_table_copied_outside_a_transaction_is_a_copy() -> None:
    from moto.dynamodb.models.table import Table

    moto_patches.fix_stream_transactions()
    table = Table("t", account_id="123456789012", region="us-east-1",
                  schema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                  attr=[{"AttributeName": "pk", "AttributeType": "S"}])  # fmt: skip
    clone = copy.deepcopy(table)
    assert clone is not table and clone.items is not table.items
