"""Canonical memory records: the DynamoDB table that is the truth behind vector memory.

This module is the memory table's data-access layer: its one pynamodb model and every read
and write of it. Other memory modules call these functions.

One item per memory: `pk = "<tenant>#<namespace>"`, `sk = memory_id`. The table's stream
(NEW_AND_OLD_IMAGES) feeds the indexer; its TTL attribute `expires_at` expires memories, and
DynamoDB's TTL deletion arrives on the stream as a REMOVE.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError, UpdateError
from pynamodb.models import Model

from aios.errors import StaleMemoryWrite


class MemoryRecord(Model):
    """One canonical memory."""

    class Meta:
        table_name = "aios-memory-unbound"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    tenant = UnicodeAttribute()
    namespace = UnicodeAttribute()
    text = UnicodeAttribute()
    source_case = UnicodeAttribute(null=True)
    source_action = UnicodeAttribute(null=True)
    version = NumberAttribute()
    embedding_model = UnicodeAttribute()  # "<model id>@<version>", as Embedder.model
    created_at = UnicodeAttribute()
    expires_at = TTLAttribute(null=True)

    @property
    def memory_id(self) -> str:
        return str(self.sk)


def bind_memory_table(table_name: str) -> None:
    """Point the model at the deployed table (named by the environment, not by code)."""
    if MemoryRecord.Meta.table_name != table_name:
        MemoryRecord.Meta.table_name = table_name
        MemoryRecord._connection = None


def partition(tenant: str, namespace: str) -> str:
    return f"{tenant}#{namespace}"


def new_record(
    *,
    tenant: str,
    namespace: str,
    memory_id: str,
    text: str,
    version: int,
    embedding_model: str,
    source_case: str | None = None,
    source_action: str | None = None,
    created_at: datetime | None = None,
    expires_at: datetime | None = None,
) -> MemoryRecord:
    created = created_at or datetime.now(UTC)
    return MemoryRecord(
        partition(tenant, namespace),
        memory_id,
        tenant=tenant,
        namespace=namespace,
        text=text,
        source_case=source_case,
        source_action=source_action,
        version=version,
        embedding_model=embedding_model,
        created_at=created.isoformat(),
        expires_at=expires_at,
    )


def put_record(record: MemoryRecord) -> MemoryRecord:
    """Store `record` only if it is newer than the stored version of the same memory.

    Raises StaleMemoryWrite when the table already holds this version or a newer one: a stale
    write never wins, and replaying a write is harmless.
    """
    try:
        record.save(
            condition=MemoryRecord.version.does_not_exist()
            | (MemoryRecord.version < record.version)
        )
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise StaleMemoryWrite(
                "a newer or equal version is stored",
                memory_id=record.memory_id,
                version=int(record.version),
            ) from exc
        raise
    return record


def get_record(tenant: str, namespace: str, memory_id: str) -> MemoryRecord | None:
    try:
        return MemoryRecord.get(partition(tenant, namespace), memory_id, consistent_read=True)
    except MemoryRecord.DoesNotExist:
        return None


def namespace_records(tenant: str, namespace: str, limit: int = 1000) -> list[MemoryRecord]:
    """Every unexpired record of one tenant's namespace (strongly consistent), at most `limit`:
    for canonical sets a process reads whole, such as a terminology glossary."""
    now = datetime.now(UTC)
    out: list[MemoryRecord] = []
    for record in MemoryRecord.query(partition(tenant, namespace), consistent_read=True):
        if record.expires_at is None or record.expires_at > now:
            out.append(record)
        if len(out) >= limit:
            break
    return out


def set_embedding_model(record: MemoryRecord, model: str) -> bool:
    """Note the model of the record's current vector; the version stays (same content).

    Compare-and-set on the version: False (nothing written) when a newer version was written
    meanwhile.
    """
    try:
        record.update(
            actions=[MemoryRecord.embedding_model.set(model)],
            condition=MemoryRecord.version == int(record.version),
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        return False
    return True


def scan_records() -> Iterator[MemoryRecord]:
    """Every canonical record (the reconciler's side of the comparison)."""
    yield from MemoryRecord.scan()


def record_from_image(image: dict[str, Any]) -> MemoryRecord:
    """A record from a DynamoDB stream image (attribute-value JSON)."""
    return MemoryRecord.from_raw_data(image)
