"""Keeping vector memory in step with the canonical records.

`index_stream_records` is the stream indexer's work: idempotent and safe against records that
arrive out of order or twice (the store refuses older versions). `reconcile` is the scheduled
repair: it compares the records with the index by key, version and embedding model.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from aios.memory.embedders import Embedder
from aios.memory.records import MemoryRecord, record_from_image, set_embedding_model
from aios.memory.store import MemoryDoc, VectorStore, doc_key, epoch


class IndexReport(BaseModel):
    upserted: int = 0
    unchanged: int = 0  # stale or replayed versions the store refused
    deleted: int = 0
    skipped_expired: int = 0


class DriftReport(BaseModel):
    """What the reconciler found and repaired, by kind of drift."""

    records: int = 0
    documents: int = 0
    missing: int = 0
    stale: int = 0
    orphans: int = 0
    expired: int = 0
    reembedded: int = 0

    @property
    def total(self) -> int:
        return self.missing + self.stale + self.orphans + self.expired + self.reembedded


def docs_for(records: list[MemoryRecord], embedder: Embedder) -> list[MemoryDoc]:
    """Embed records (one batch) into documents that carry their version and model."""
    vectors = embedder.embed([str(r.text) for r in records]) if records else []
    return [
        MemoryDoc(
            tenant=str(r.tenant),
            namespace=str(r.namespace),
            memory_id=r.memory_id,
            version=int(r.version),
            embedding_model=embedder.model,
            text=str(r.text),
            created_at=_created(r),
            expires_at=epoch(r.expires_at),
            source_case=r.source_case,
            vector=v,
        )
        for r, v in zip(records, vectors, strict=True)
    ]


def index_stream_records(
    records: list[dict[str, Any]], store: VectorStore, embedder: Embedder, now: float
) -> IndexReport:
    """Apply DynamoDB stream records (NEW_AND_OLD_IMAGES) of the memory table to the index.

    INSERT and MODIFY upsert the new image's version; REMOVE (a delete or a TTL expiry)
    deletes the document unless the index already holds a newer version. Replays and
    out-of-order delivery end at the newest version.
    """
    report = IndexReport()
    for change in records:
        body = change["dynamodb"]
        if change["eventName"] == "REMOVE":
            old = record_from_image(body["OldImage"])
            key = doc_key(str(old.tenant), str(old.namespace), old.memory_id)
            if store.delete(key, int(old.version)):
                report.deleted += 1
            else:
                report.unchanged += 1
            continue
        record = record_from_image(body["NewImage"])
        expires = epoch(record.expires_at)
        if expires is not None and expires <= now:
            report.skipped_expired += 1  # DynamoDB TTL will REMOVE it; never index it
            continue
        written = store.upsert(docs_for([record], embedder))
        report.upserted += written
        report.unchanged += 1 - written
    return report


def reconcile(
    records: Iterable[MemoryRecord], store: VectorStore, embedder: Embedder, now: float
) -> DriftReport:
    """Repair the index from the records; returns the drift found, by kind.

    - missing: a live record without a document is indexed;
    - stale: a document older than its record is re-indexed;
    - reembedded: a document embedded by another model than `embedder` is re-embedded;
    - orphans: a document without a record is deleted;
    - expired: a document whose record expired (DynamoDB TTL deletes lazily) is deleted.
    """
    inventory = store.inventory()
    report = DriftReport(documents=len(inventory))
    to_index: list[MemoryRecord] = []
    expired_keys: list[str] = []
    seen: set[str] = set()
    for record in records:
        report.records += 1
        key = doc_key(str(record.tenant), str(record.namespace), record.memory_id)
        seen.add(key)
        doc = inventory.get(key)
        expires = epoch(record.expires_at)
        if expires is not None and expires <= now:
            if doc is not None:
                expired_keys.append(key)
                report.expired += 1
            continue
        if doc is None:
            report.missing += 1
        elif doc.version != int(record.version):
            report.stale += 1
            if doc.version > int(record.version):  # the store refuses to go back: clear first
                expired_keys.append(key)
        elif doc.embedding_model != embedder.model:
            report.reembedded += 1
        else:
            continue
        to_index.append(record)
    orphans = [key for key in inventory if key not in seen]
    report.orphans = len(orphans)
    store.delete_keys([*orphans, *expired_keys])
    for start in range(0, len(to_index), 50):
        batch = to_index[start : start + 50]
        store.upsert(docs_for(batch, embedder))
        for record in batch:
            if record.embedding_model != embedder.model:
                # Refused if a newer version was written meanwhile: its stream record re-indexes it.
                set_embedding_model(record, embedder.model)
    return report


def _created(record: MemoryRecord) -> float:
    from datetime import datetime

    return datetime.fromisoformat(str(record.created_at)).timestamp()
