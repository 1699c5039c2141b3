"""Memory domain: versioned records, the stream indexer, the reconciler, tenant isolation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from aios.errors import StaleMemoryWrite
from aios.memory import HashingEmbedder, bind_memory_table
from aios.memory.indexing import index_stream_records, reconcile
from aios.memory.records import (
    MemoryRecord,
    get_record,
    new_record,
    put_record,
    scan_records,
    set_embedding_model,
)
from aios.memory.service import recall
from aios.memory.store import EmbeddedVectorStore, doc_key
from moto import mock_aws

NOW = datetime(2026, 11, 1, tzinfo=UTC)
EMBEDDER = HashingEmbedder(64)


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        boto3.client("dynamodb").create_table(
            TableName="memory",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )  # fmt: skip
        bind_memory_table("memory")
        yield "memory"
        bind_memory_table("aios-memory-unbound")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EmbeddedVectorStore]:
    s = EmbeddedVectorStore(tmp_path / "vectors.sqlite")
    yield s
    s.close()


def _record(
    version: int, text: str = "refund a double charge", tenant: str = "acme", **kw: Any
) -> MemoryRecord:
    return new_record(
        tenant=tenant, namespace="support", memory_id="m1", text=f"{text} v{version}",
        version=version, embedding_model=EMBEDDER.model, created_at=NOW, **kw,
    )  # fmt: skip


def _stream(event: str, record: MemoryRecord) -> dict[str, Any]:
    image = record.serialize()
    image.update({"pk": {"S": record.pk}, "sk": {"S": record.sk}})
    key = "OldImage" if event == "REMOVE" else "NewImage"
    return {"eventName": event, "dynamodb": {key: image}}


def test_a_stale_write_never_wins(table: str) -> None:
    put_record(_record(2))
    with pytest.raises(StaleMemoryWrite):
        put_record(_record(1))
    with pytest.raises(StaleMemoryWrite):
        put_record(_record(2, text="replay"))
    put_record(_record(3))
    stored = get_record("acme", "support", "m1")
    assert stored is not None and int(stored.version) == 3


def test_noting_the_embedding_model_never_touches_a_newer_version(table: str) -> None:
    old = put_record(_record(1))
    put_record(_record(2))
    assert set_embedding_model(old, "other@1") is False
    stored = get_record("acme", "support", "m1")
    assert stored is not None and stored.embedding_model == EMBEDDER.model
    assert set_embedding_model(stored, "other@1") is True
    again = get_record("acme", "support", "m1")
    assert again is not None and again.embedding_model == "other@1" and int(again.version) == 2


def test_out_of_order_stream_records_end_at_the_newest_version(store: EmbeddedVectorStore) -> None:
    v1, v2, v3 = _record(1), _record(2), _record(3)
    index_stream_records(
        [_stream("INSERT", v1), _stream("MODIFY", v3)], store, EMBEDDER, NOW.timestamp()
    )
    report = index_stream_records(
        [_stream("MODIFY", v2), _stream("MODIFY", v3), _stream("INSERT", v1)],
        store,
        EMBEDDER,
        NOW.timestamp(),
    )
    assert report.upserted == 0 and report.unchanged == 3
    doc = store.inventory()[doc_key("acme", "support", "m1")]
    assert doc.version == 3
    hits = store.search("acme", "support", EMBEDDER.embed(["refund"])[0], 5, NOW.timestamp())
    assert [h.text for h in hits] == ["refund a double charge v3"]


def test_a_ttl_expiry_removes_the_document(store: EmbeddedVectorStore) -> None:
    record = _record(1, expires_at=NOW + timedelta(days=1))
    index_stream_records([_stream("INSERT", record)], store, EMBEDDER, NOW.timestamp())
    assert store.inventory()
    # DynamoDB TTL deletes the item: the stream carries a REMOVE with the old image.
    report = index_stream_records([_stream("REMOVE", record)], store, EMBEDDER, NOW.timestamp())
    assert report.deleted == 1 and store.inventory() == {}


def test_a_late_remove_of_an_older_version_keeps_the_newer_document(
    store: EmbeddedVectorStore,
) -> None:
    index_stream_records([_stream("INSERT", _record(2))], store, EMBEDDER, NOW.timestamp())
    index_stream_records([_stream("REMOVE", _record(1))], store, EMBEDDER, NOW.timestamp())
    assert store.inventory()[doc_key("acme", "support", "m1")].version == 2


def test_the_reconciler_repairs_each_kind_of_drift(table: str, store: EmbeddedVectorStore) -> None:
    def rec(memory_id: str, version: int, **kw: Any) -> MemoryRecord:
        r = new_record(tenant="acme", namespace="support", memory_id=memory_id, text=f"lesson {memory_id}",
                       version=version, embedding_model=EMBEDDER.model, created_at=NOW, **kw)  # fmt: skip
        return put_record(r)

    rec("missing", 1)
    stale = rec("stale", 1)
    index_stream_records([_stream("INSERT", stale)], store, EMBEDDER, NOW.timestamp())
    rec("stale", 2)  # the stream record of version 2 was lost
    old_model = HashingEmbedder(64, version="0")
    changed = rec("changed", 1)
    store.upsert(
        __import__("aios.memory.indexing", fromlist=["docs_for"]).docs_for([changed], old_model)
    )
    orphan = new_record(tenant="acme", namespace="support", memory_id="orphan", text="gone",
                        version=1, embedding_model=EMBEDDER.model, created_at=NOW)  # fmt: skip
    index_stream_records([_stream("INSERT", orphan)], store, EMBEDDER, NOW.timestamp())
    expired = rec("expired", 1, expires_at=NOW + timedelta(hours=1))
    index_stream_records([_stream("INSERT", expired)], store, EMBEDDER, NOW.timestamp())

    later = (NOW + timedelta(hours=2)).timestamp()
    report = reconcile(scan_records(), store, EMBEDDER, later)
    assert (report.missing, report.stale, report.reembedded, report.orphans, report.expired) == (
        1,
        1,
        1,
        1,
        1,
    )
    docs = store.inventory()
    assert set(docs) == {doc_key("acme", "support", m) for m in ("missing", "stale", "changed")}
    assert docs[doc_key("acme", "support", "stale")].version == 2
    assert {d.embedding_model for d in docs.values()} == {EMBEDDER.model}
    again = reconcile(scan_records(), store, EMBEDDER, later)
    assert again.total == 0  # repaired: a second pass finds nothing


def test_recall_never_returns_another_tenants_memory_even_for_an_identical_query(
    store: EmbeddedVectorStore,
) -> None:
    text = "customer charged twice for the subscription"
    for tenant in ("acme", "globex"):
        r = new_record(tenant=tenant, namespace="support", memory_id="m", text=f"{text} ({tenant})",
                       version=1, embedding_model=EMBEDDER.model, created_at=NOW)  # fmt: skip
        index_stream_records([_stream("INSERT", r)], store, EMBEDDER, NOW.timestamp())
    found = recall(
        tenant="acme", namespace="support", query=text, store=store, embedder=EMBEDDER, now=NOW
    )
    assert [m.text for m in found.memories] == [f"{text} (acme)"]
    nothing = recall(
        tenant="initech", namespace="support", query=text, store=store, embedder=EMBEDDER, now=NOW
    )
    assert nothing.memories == [] and nothing.summary == ""


def test_recall_weights_recent_memories_above_equally_similar_old_ones(
    store: EmbeddedVectorStore,
) -> None:
    for memory_id, age in (("old", 120), ("new", 1)):
        r = new_record(tenant="acme", namespace="support", memory_id=memory_id, text="refund the double charge",
                       version=1, embedding_model=EMBEDDER.model, created_at=NOW - timedelta(days=age))  # fmt: skip
        index_stream_records([_stream("INSERT", r)], store, EMBEDDER, NOW.timestamp())
    found = recall(tenant="acme", namespace="support", query="refund the double charge", store=store,
                   embedder=EMBEDDER, now=NOW)  # fmt: skip
    assert [m.memory_id for m in found.memories] == ["new", "old"]
    assert found.memories[0].score > found.memories[1].score
    assert len(found.summary) <= 4000 and "refund the double charge" in found.summary
